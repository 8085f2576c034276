"""The serving side: the ``litellm-claude-code`` command (serve, config,
doctor), the embedded proxy config, the master key, the ASGI wrapper."""
