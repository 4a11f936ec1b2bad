"""The sandbox tests' bot token."""

TOKEN = "424242:SANDBOX-test_token"
