from safemigrate.cli import main

main()
