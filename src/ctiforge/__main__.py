from ctiforge._cli.main import main

main()
