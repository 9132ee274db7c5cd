"""MESH, both ways: local authorities' case systems send uploads to our mailbox and receive
acknowledgements and notifications from it (docs/la-interface.md)."""
