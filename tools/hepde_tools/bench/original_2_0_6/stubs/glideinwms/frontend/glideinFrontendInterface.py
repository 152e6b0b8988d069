class _Sym:
    def get_code(self):
        return "cypher:aes_256_cbc,key:00,iv:00"


class _Pub:
    def encrypt_hex(self, s):
        return "enc"


class _Key:
    def __init__(self, ident, kid, kobj):
        self.classad_identity = ident
        self.factory_pub_key_id = kid
        self.factory_pub_key = _Pub()
        self.glidein_symKey = _Sym()

    def encrypt_hex(self, s):
        return "x" + str(len(str(s)))


class Key4AdvertizeBuilder:
    def get_key_obj(self, ident, kid, kobj):
        return _Key(ident, kid, kobj)


class AdvertizeParams:
    def __init__(
        self,
        request_name,
        glidein_name,
        min_nr_glideins,
        max_run_glideins,
        glidein_params=None,
        glidein_monitors=None,
        glidein_monitors_per_cred=None,
        glidein_params_to_encrypt=None,
        security_name=None,
        remove_excess_str=None,
    ):
        self.request_name = request_name
        self.glidein_name = glidein_name
        self.min_nr_glideins = min_nr_glideins
        self.max_run_glideins = max_run_glideins
        self.glidein_params = glidein_params or {}
        self.glidein_monitors = glidein_monitors or {}
        self.glidein_monitors_per_cred = glidein_monitors_per_cred or {}
        self.glidein_params_to_encrypt = glidein_params_to_encrypt
        self.security_name = security_name
        self.remove_excess_str = remove_excess_str
