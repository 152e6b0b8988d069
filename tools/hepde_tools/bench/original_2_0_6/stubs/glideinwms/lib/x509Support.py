def extract_DN(f):
    return ""
