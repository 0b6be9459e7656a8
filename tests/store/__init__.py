"""Tests of the state store and the artifact store."""
