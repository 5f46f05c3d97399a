"""Shopify Admin API: connector and normalizer."""
