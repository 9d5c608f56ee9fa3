"""Who signs and when: the one credential owner, the server clock offset, SigV4 signing."""
