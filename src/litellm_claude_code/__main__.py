"""``python -m litellm_claude_code`` runs the command line."""

from ._serve.cli import main

main()
