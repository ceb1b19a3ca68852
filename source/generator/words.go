package generator

// The word lists below are written for sluice, in the spirit of the faker
// libraries the seed generators used (commerce.productName, color.name,
// commerce.department, code.asin, name.name). They are part of the output
// contract: changing, adding or reordering an entry changes the rows every
// seed produces, so treat them as append-never data and add new lists
// instead.

var productAdjectives = []string{
	"Small", "Ergonomic", "Rustic", "Intelligent", "Gorgeous", "Incredible",
	"Fantastic", "Practical", "Sleek", "Awesome", "Enormous", "Mediocre",
	"Synergistic", "Heavy Duty", "Lightweight", "Aerodynamic", "Durable",
	"Handcrafted", "Refined", "Modern", "Elegant", "Generic", "Unbranded",
	"Licensed", "Recycled", "Luxurious", "Bespoke", "Compact", "Portable",
	"Vintage", "Oversized", "Tiny", "Sturdy", "Premium", "Everyday",
	"Weatherproof", "Foldable", "Classic", "Smart", "Rugged",
}

var productMaterials = []string{
	"Steel", "Wooden", "Concrete", "Plastic", "Cotton", "Granite", "Rubber",
	"Leather", "Silk", "Wool", "Linen", "Marble", "Iron", "Bronze", "Copper",
	"Aluminum", "Paper", "Glass", "Ceramic", "Bamboo", "Carbon", "Titanium",
	"Suede", "Denim", "Velvet", "Cork", "Slate", "Felt", "Nylon", "Brass",
}

var productNouns = []string{
	"Chair", "Car", "Computer", "Gloves", "Pants", "Shirt", "Table", "Shoes",
	"Hat", "Plate", "Knife", "Bottle", "Coat", "Lamp", "Keyboard", "Bag",
	"Bench", "Clock", "Watch", "Wallet", "Mouse", "Jacket", "Bowl", "Hammer",
	"Backpack", "Umbrella", "Desk", "Sofa", "Pillow", "Blanket", "Mug",
	"Sunglasses", "Scarf", "Helmet", "Kettle", "Speaker", "Notebook", "Belt",
	"Boots", "Tent",
}

var colors = []string{
	"red", "green", "blue", "yellow", "orange", "purple", "violet", "indigo",
	"teal", "cyan", "magenta", "maroon", "olive", "navy", "lime", "pink",
	"salmon", "gold", "silver", "white", "black", "gray", "tan", "plum",
	"orchid", "turquoise", "lavender", "ivory", "mint green", "sky blue",
}

var departments = []string{
	"Tools", "Books", "Electronics", "Home", "Garden", "Toys", "Games",
	"Grocery", "Health", "Beauty", "Sports", "Outdoors", "Automotive",
	"Industrial", "Clothing", "Shoes", "Jewelry", "Music", "Movies", "Baby",
	"Kids", "Computers", "Office", "Pet Supplies", "Kitchen",
}

var loremWords = []string{
	"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing",
	"elit", "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore",
	"et", "dolore", "magna", "aliqua", "enim", "ad", "minim", "veniam",
	"quis", "nostrud", "exercitation", "ullamco", "laboris", "nisi",
	"aliquip", "ex", "ea", "commodo", "consequat", "duis", "aute", "irure",
	"voluptate", "velit", "esse", "cillum", "fugiat", "nulla", "pariatur",
}

var loremPunctuation = []string{".", ".", ".", "!", "?"}

var firstNames = []string{
	"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael",
	"Linda", "William", "Elizabeth", "David", "Barbara", "Richard", "Susan",
	"Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Daniel",
	"Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Margaret",
	"Aiko", "Mateo", "Priya", "Kwame", "Ingrid", "Omar", "Sofia", "Lars",
	"Mei", "Diego", "Amara", "Yusuf",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
	"Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez",
	"Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
	"Lee", "Perez", "Thompson", "White", "Harris", "Clark", "Lewis",
	"Tanaka", "Okafor", "Nilsson", "Kowalski", "Haddad", "Rossi", "Novak",
	"Schmidt", "Dubois", "Silva", "Chen", "Patel", "Murphy",
}

var streetNames = []string{
	"Oak", "Maple", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill",
	"Park", "Main", "Church", "Mill", "River", "Spring", "Sunset", "Highland",
	"Meadow", "Forest", "Lincoln", "Jefferson", "Franklin", "Chestnut",
	"Willow", "Walnut", "Cherry", "Ridge", "Valley", "Harbor", "Orchard",
	"Bridge",
}

var streetSuffixes = []string{
	"Street", "Avenue", "Road", "Lane", "Drive", "Court", "Way", "Boulevard",
	"Place", "Terrace",
}

var cities = []string{
	"Springfield", "Riverside", "Franklin", "Greenville", "Bristol",
	"Clinton", "Fairview", "Salem", "Madison", "Georgetown", "Arlington",
	"Ashland", "Dover", "Oxford", "Jackson", "Burlington", "Manchester",
	"Milton", "Newport", "Auburn", "Dayton", "Lexington", "Milford",
	"Winchester", "Clayton",
}

// emailDomains are reserved for documentation (RFC 2606), so generated rows
// never name a real mailbox.
var emailDomains = []string{"example.com", "example.org", "example.net"}
