"""The files the project writes: private (0600) files, answer tables, spreadsheet-safe writers."""
