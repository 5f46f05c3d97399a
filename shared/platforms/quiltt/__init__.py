"""Quiltt (bank data): connector and normalizer."""
