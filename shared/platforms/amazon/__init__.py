"""Amazon Selling Partner API: connector and normalizer."""
