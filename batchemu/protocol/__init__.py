"""The wire: botocore's Batch model drives routing, parsing, validation and serialisation (rest-json)."""
