"""Sessions across computers: the server, the remote client, join codes and TLS (DESIGN.md §4 "Network")."""
