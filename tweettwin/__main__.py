from tweettwin.cli import main

main()
