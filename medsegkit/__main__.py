from medsegkit.cli import main

main()
