"""One package per platform, each with the same files (auth, client, pagination, normalize)."""
