"""The context engine: a repository index and the ranked, budgeted, cache-stable context it feeds a prompt."""
