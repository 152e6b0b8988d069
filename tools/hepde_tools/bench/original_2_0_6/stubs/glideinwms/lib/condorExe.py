def iexe_cmd(cmd):
    return [""]
