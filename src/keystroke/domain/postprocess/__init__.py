"""domain/postprocess"""
