"""A labelled set of café answers: what a person reading each one says it is about.

Plurals, verb forms, typos, phrases, accents, capitals, a few answers in French and Spanish, words
that merely look like a keyword ("toffee", "stuff", "steak"), and answers about nothing configured.
Each answer carries its rating on its scale and the themes and tone a person would give it.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ["en", "fr", "es"]
THEMES: list[dict[str, Any]] = [
    {"name": "Pastries", "keywords": ["pastry", "croissant", "cake", "muffin", "scone", "pâtisserie"]},
    {"name": "Coffee", "keywords": ["coffee", "flat white", "espresso", "latte", "cappuccino"]},
    {
        "name": "Staff",
        "keywords": ["staff", "waiter", "waitress", "barista", "friendly", "rude", "serveur", "camarero"],
    },
    {"name": "Service", "keywords": ["service", "slow", "wait", "queue", "lento"]},
    {"name": "Seating", "keywords": ["outdoor seating", "terrace", "terrasse", "terraza", "table"]},
    {"name": "Price", "keywords": ["price", "expensive", "cheap", "prix", "precio"]},
]

# (answer, rating, scale, themes, tone)
LABELLED: list[tuple[str, int | None, int, tuple[str, ...], str]] = [
    # plurals and inflections
    ("The croissants were amazing", 5, 5, ("Pastries",), "praise"),
    ("Best croissant in town", 5, 5, ("Pastries",), "praise"),
    ("CROISSANTS!!!", 5, 5, ("Pastries",), "praise"),
    ("Loved the pastries", 5, 5, ("Pastries",), "praise"),
    ("pastry selection is great", 4, 5, ("Pastries",), "praise"),
    ("The cakes are to die for", 5, 5, ("Pastries",), "praise"),
    ("Lemon cake was dry", 2, 5, ("Pastries",), "problem"),
    ("blueberry muffins every morning please", 4, 5, ("Pastries",), "praise"),
    ("Scones with jam, perfect", 5, 5, ("Pastries",), "praise"),
    ("The scone was stale", 1, 5, ("Pastries",), "problem"),
    ("Two muffins and a croissant, all fresh", 5, 5, ("Pastries",), "praise"),
    ("pastries sold out by 10am", 3, 5, ("Pastries",), "problem"),
    ("Your cakes never disappoint", None, 5, ("Pastries",), "neutral"),
    ("Cakes and coffee, what else", 5, 5, ("Pastries", "Coffee"), "praise"),
    ("The coffees were strong", 4, 5, ("Coffee",), "praise"),
    ("Lattes are too milky", 3, 5, ("Coffee",), "problem"),
    ("Great espressos", 5, 5, ("Coffee",), "praise"),
    ("cappuccinos with lovely foam", 5, 5, ("Coffee",), "praise"),
    ("We waited ages for a table", 2, 5, ("Service", "Seating"), "problem"),
    ("Waiting time was long", 2, 5, ("Service",), "problem"),
    ("The queues at lunch are huge", 3, 5, ("Service",), "problem"),
    ("Had to queue for twenty minutes", 2, 5, ("Service",), "problem"),
    ("Prices went up again", 2, 5, ("Price",), "problem"),
    ("Fair prices for the quality", 4, 5, ("Price",), "praise"),
    ("A bit expensive but worth it", 4, 5, ("Price",), "praise"),
    ("Cheaper than the chain next door", 5, 5, ("Price",), "praise"),
    ("The tables outside are wobbly", 3, 5, ("Seating",), "problem"),
    # typos (words of 5+ letters, one typo)
    ("the croisants were buttery", 5, 5, ("Pastries",), "praise"),
    ("Croissnts were a bit burnt", 3, 5, ("Pastries",), "problem"),
    ("my coffe was cold", 2, 5, ("Coffee",), "problem"),
    ("best cofee around", 5, 5, ("Coffee",), "praise"),
    ("espreso was bitter", 2, 5, ("Coffee",), "problem"),
    ("capuccino art was cute", 5, 5, ("Coffee",), "praise"),
    ("pastires are fresh every day", 5, 5, ("Pastries",), "praise"),
    ("frendly people", 5, 5, ("Staff",), "praise"),
    ("the baristta remembered my order", 5, 5, ("Staff",), "praise"),
    ("the barista knows my order", 5, 5, ("Staff",), "praise"),
    ("servcie was quick today", 4, 5, ("Service",), "praise"),
    ("Sevrice could be better", 3, 5, ("Service",), "problem"),
    ("terace in the sun is lovely", 5, 5, ("Seating",), "praise"),
    ("expensve for what it is", 2, 5, ("Price",), "problem"),
    # phrases
    ("The flat white was perfect", 5, 5, ("Coffee",), "praise"),
    ("Flat whites are the best in town", 5, 5, ("Coffee",), "praise"),
    ("flat   white, extra hot", 4, 5, ("Coffee",), "praise"),
    ("the floor is flat and the walls are white", 4, 5, (), "praise"),
    ("white walls, flat floor", 4, 5, (), "praise"),
    ("Love the outdoor seating", 5, 5, ("Seating",), "praise"),
    ("more outdoor seats please", 4, 5, ("Seating",), "praise"),
    ("outdoor concerts in summer", 5, 5, (), "praise"),
    ("seating inside is cramped", 3, 5, (), "problem"),
    # case and accents
    ("COFFEE!!!", 5, 5, ("Coffee",), "praise"),
    ("Lovely Staff", 5, 5, ("Staff",), "praise"),
    ("la PÂTISSERIE est superbe", 5, 5, ("Pastries",), "praise"),
    ("patisserie counter looks great", 5, 5, ("Pastries",), "praise"),
    ("Friendly, FRIENDLY, friendly!", 5, 5, ("Staff",), "praise"),
    # never inside another word, and look-alike words
    ("The toffee was sticky", 4, 5, (), "praise"),
    ("stuff was nice", 5, 5, (), "praise"),
    ("steak sandwich was great", 5, 5, (), "praise"),
    ("coffeehouse vibes", 5, 5, (), "praise"),
    ("cupcake heaven", 5, 5, (), "praise"),
    ("tablet charging would help", 3, 5, (), "problem"),
    ("cheapskate prices? no, fair", 4, 5, ("Price",), "praise"),
    ("unfriendly owner", 2, 5, (), "problem"),
    ("the waiters were rude", 1, 5, ("Staff",), "problem"),
    # several themes
    ("Friendly staff and great coffee", 5, 5, ("Coffee", "Staff"), "praise"),
    ("Service was really slow", 3, 5, ("Service",), "problem"),
    ("Slow service, rude waiter", 1, 5, ("Staff", "Service"), "problem"),
    ("Croissants good, coffee cold", 3, 5, ("Pastries", "Coffee"), "problem"),
    ("Cheap coffee and a nice terrace", 5, 5, ("Coffee", "Price", "Seating"), "praise"),
    ("waited for a latte for ages", 2, 5, ("Coffee", "Service"), "problem"),
    ("barista made a perfect flat white", 5, 5, ("Coffee", "Staff"), "praise"),
    ("The muffin was expensive", 3, 5, ("Pastries", "Price"), "problem"),
    # French
    ("Les croissants étaient délicieux", 5, 5, ("Pastries",), "praise"),
    ("Le serveur était très gentil", 5, 5, ("Staff",), "praise"),
    ("Les serveurs sont adorables", 5, 5, ("Staff",), "praise"),
    ("La terrasse est magnifique", 5, 5, ("Seating",), "praise"),
    ("Les prix sont trop élevés", 2, 5, ("Price",), "problem"),
    ("Un gâteau au chocolat incroyable", 5, 5, (), "praise"),
    ("Musique trop forte", 2, 5, (), "problem"),
    ("Le croissant était rassis", 2, 5, ("Pastries",), "problem"),
    ("service très lent", 2, 5, ("Service",), "problem"),
    # Spanish
    ("Los camareros muy amables", 5, 5, ("Staff",), "praise"),
    ("El camarero fue muy lento", 2, 5, ("Staff", "Service"), "problem"),
    ("La terraza es preciosa", 5, 5, ("Seating",), "praise"),
    ("Precios muy altos", 2, 5, ("Price",), "problem"),
    ("El precio es justo", 4, 5, ("Price",), "praise"),
    ("Los cruasanes estaban ricos", 5, 5, (), "praise"),
    ("Muy buena música", 5, 5, (), "praise"),
    # about nothing configured
    ("The wifi kept dropping", 2, 5, (), "problem"),
    ("wifi password on the wall would help", 3, 5, (), "problem"),
    ("Great music", 5, 5, (), "praise"),
    ("Music too loud", 2, 5, (), "problem"),
    ("Toilets were dirty", 1, 5, (), "problem"),
    ("Nice view of the river", 5, 5, (), "praise"),
    ("parking is a nightmare", 2, 5, (), "problem"),
    ("Dog friendly? yes!", 5, 5, ("Staff",), "praise"),
    ("ok", None, 5, (), "neutral"),
    ("🙂", 5, 5, (), "praise"),
    ("", 4, 5, (), "praise"),
    ("12345", 3, 5, (), "problem"),
    # the 0-10 scale (tone: 0-6 problem, 7-8 neutral, 9-10 praise)
    ("would recommend for the coffee", 10, 10, ("Coffee",), "praise"),
    ("Croissants are why I come", 9, 10, ("Pastries",), "praise"),
    ("Decent coffee", 8, 10, ("Coffee",), "neutral"),
    ("Coffee fine, prices high", 7, 10, ("Coffee", "Price"), "neutral"),
    ("too expensive to recommend", 6, 10, ("Price",), "problem"),
    ("Rude staff", 2, 10, ("Staff",), "problem"),
    ("Service is slow", 0, 10, ("Service",), "problem"),
    ("nice terrace", None, 10, ("Seating",), "neutral"),
    ("wifi", 5, 10, (), "problem"),
    ("Lovely music", 9, 10, (), "praise"),
    ("flat white to go", 8, 10, ("Coffee",), "neutral"),
    ("La terrasse", 10, 10, ("Seating",), "praise"),
]
