"""Tests of the HTTP service (faceproof.server)."""
