def fair_split(i, n, p):
    return int((int(n) * int(i)) / int(p))


class ProxyAll:
    def __init__(self, workdir, cred_list):
        self.cred_list = cred_list

    def get_credentials(self, params_obj=None, credential_type=None, trust_domain=None):
        out = [c for c in self.cred_list if trust_domain is None or c.trust_domain == trust_domain]
        if params_obj is not None:
            n = len(out)
            for i, c in enumerate(out):
                c.add_usage_details(
                    fair_split(i + 1, params_obj.min_nr_glideins, n)
                    - fair_split(i, params_obj.min_nr_glideins, n),
                    fair_split(i + 1, params_obj.max_run_glideins, n)
                    - fair_split(i, params_obj.max_run_glideins, n),
                )
        return out


proxy_plugins = {"ProxyAll": ProxyAll}
