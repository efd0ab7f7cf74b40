"""`python -m bot.cli`: the `engage` command."""

from bot.cli import main

main()
