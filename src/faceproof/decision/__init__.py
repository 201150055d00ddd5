"""The identity-check decision: face quality, the policy knobs and ``check_profile``."""
