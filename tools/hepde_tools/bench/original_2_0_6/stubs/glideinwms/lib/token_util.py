def create_and_sign_token(*a, **k):
    return ""
