"""The modelling language: expressions, models and their builder, mutation operators, scenarios.

It knows nothing of KMS, of the engines or of the command line."""
