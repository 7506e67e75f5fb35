"""mrkcheck: a model checker for AWS KMS multi-Region keys."""
