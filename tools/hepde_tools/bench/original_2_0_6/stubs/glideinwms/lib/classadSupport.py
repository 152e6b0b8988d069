class Classad:
    def __init__(self, adType, advertiseCmd, invalidateCmd):
        self.adType = adType
        self.adParams = {"MyType": adType, "GlideinMyType": adType, "GlideinWMSVersion": "UNKNOWN"}


class ClassadAdvertiser:
    def __init__(self, pool=None, multi_support=False, tcp_support=False):
        pass
