"""The Claude Code side: the CLI processes (options, session, pool), their
environment and credentials, and what their messages mean (stream).
Never imports the OpenAI side."""
