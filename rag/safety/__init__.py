"""What keeps secrets and files safe: redaction, the endpoint allow-list, the ownership ledger,
terminal-safe text and text without the controls that reorder it."""
