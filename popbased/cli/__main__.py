from popbased.cli import main

main()
