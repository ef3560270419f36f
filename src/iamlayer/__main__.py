from iamlayer.cli.main import main

main()
