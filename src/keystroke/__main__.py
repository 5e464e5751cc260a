"""`python -m keystroke` is the `keystroke` command."""

from keystroke.transports.cli.main import main

main()
