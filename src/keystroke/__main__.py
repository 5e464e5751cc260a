"""`python -m keystroke` is the `keystroke` command."""

from keystroke.transports.cli.main import main

if __name__ == "__main__":  # a spawned worker process imports this module too: it must not run the CLI
    main()
