"""What keeps secrets and files safe: redaction, the endpoint allow-list, the ownership ledger and
terminal-safe text."""
