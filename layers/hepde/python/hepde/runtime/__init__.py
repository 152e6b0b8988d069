"""The channel runtime: stage functions (what each Lambda does), ASL generation, cycle records."""
