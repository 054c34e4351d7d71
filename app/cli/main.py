def main() -> None:
    print("lumos")
