"""``python -m litellm_claude_code`` runs the command line."""

from .cli import main

main()
