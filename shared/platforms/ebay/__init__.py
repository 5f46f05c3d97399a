"""eBay Sell APIs: connector and normalizer."""
