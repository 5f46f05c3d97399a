"""Etsy Open API v3: connector and normalizer."""
