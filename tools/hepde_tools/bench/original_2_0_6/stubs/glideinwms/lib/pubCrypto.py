class PubRSAKey:
    def __init__(self, key_str=None):
        self.key_str = key_str
