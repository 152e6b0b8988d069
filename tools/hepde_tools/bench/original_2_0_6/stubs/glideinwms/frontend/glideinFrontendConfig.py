class ParamsDescript:
    def __init__(self, workdir, group):
        self.const_data = {}
        self.expr_data = {}
        self.expr_objs = {}
