"""Who is asking: tokens, Cognito sign-in, visitor and agent sessions."""
