"""Everyday spoken questions with the words a right answer holds, for `parley eval --answers`.

Not the bench's prompts: questions of the kinds people ask a home assistant (facts, arithmetic,
units, dates, definitions, advice, the time, memory), each with the words of which a right
reply holds at least one (numbers both as digits and as words, since Parley says numbers in
words). Advice is judged on topic: a reply that speaks of the thing asked about.
"""

from __future__ import annotations

from dataclasses import dataclass

from parley.bench.prompts import CLOCK_WORDS


@dataclass(frozen=True, slots=True)
class AnswerCase:
    kind: str
    question: str
    accepted: tuple[str, ...]


def _n(number: int, words: str) -> tuple[str, ...]:
    """A number as digits and as the words it is said with."""
    return (str(number), *words.split())


def _kind(kind: str, *cases: tuple[str, tuple[str, ...]]) -> tuple[AnswerCase, ...]:
    return tuple(AnswerCase(kind, question, accepted) for question, accepted in cases)


ANSWER_SET: tuple[AnswerCase, ...] = (
    _kind(
        "fact",
        ("Which planet is known as the red planet?", ("mars",)),
        ("How many legs does an insect have?", _n(6, "six")),
        ("What is the fastest land animal?", ("cheetah", "cheetahs")),
        ("What is the largest ocean on Earth?", ("pacific",)),
        ("Who painted the Mona Lisa?", ("leonardo", "vinci", "da")),
        ("What is the capital of Australia?", ("canberra",)),
        ("What gas do plants take in from the air?", ("carbon", "co2", "dioxide")),
        ("How many strings does a standard guitar have?", _n(6, "six")),
        ("What is the capital of Japan?", ("tokyo",)),
        ("What is the largest planet in our solar system?", ("jupiter",)),
        ("How many continents are there?", _n(7, "seven")),
        ("What is the chemical symbol for gold?", ("au",)),
        ("Who wrote Romeo and Juliet?", ("shakespeare",)),
        ("What is the tallest mountain in the world?", ("everest",)),
        ("What is the capital of Italy?", ("rome",)),
        ("How many days are there in a leap year?", _n(366, "three hundred sixty six")),
        ("What colour do you get when you mix blue and yellow?", ("green",)),
        ("What is the largest mammal?", ("whale", "whales")),
        ("Which animal is known as the king of the jungle?", ("lion", "lions")),
        ("What is the closest star to the Earth?", ("sun",)),
        ("How many sides does a hexagon have?", _n(6, "six")),
        ("What is the capital of Canada?", ("ottawa",)),
        ("What do bees make?", ("honey",)),
        ("What is the boiling point of water in Celsius?", _n(100, "hundred")),
        ("Which planet is closest to the sun?", ("mercury",)),
        ("What is the hardest natural substance?", ("diamond", "diamonds")),
        ("How many players are on a football team on the pitch?", _n(11, "eleven")),
        ("What language is spoken in Brazil?", ("portuguese",)),
        ("What is the longest river in Africa?", ("nile",)),
        ("What is frozen water called?", ("ice",)),
        ("How many hearts does an octopus have?", _n(3, "three")),
        ("What is the capital of Germany?", ("berlin",)),
        ("Which bird is a symbol of peace?", ("dove", "doves")),
        ("How many colours are there in a rainbow?", _n(7, "seven")),
        ("What is the main ingredient of guacamole?", ("avocado", "avocados")),
        ("What is the capital of Spain?", ("madrid",)),
        ("Which organ pumps blood around the body?", ("heart",)),
        ("What is the smallest prime number?", _n(2, "two")),
        ("How many wheels does a tricycle have?", _n(3, "three")),
        ("What is the freezing point of water in Fahrenheit?", _n(32, "thirty two")),
        ("Who was the first person to walk on the moon?", ("armstrong", "neil")),
        ("What is the capital of Egypt?", ("cairo",)),
        ("What do caterpillars turn into?", ("butterfly", "butterflies", "moth", "moths")),
        ("How many bones are in the adult human body?", _n(206, "two hundred six")),
        ("Which metal is liquid at room temperature?", ("mercury",)),
        ("What is the capital of Russia?", ("moscow",)),
        ("What is the largest desert in the world?", ("sahara", "antarctic", "antarctica")),
        ("What animal says moo?", ("cow", "cows")),
        ("How many teeth does an adult human have?", _n(32, "thirty two")),
        ("What is the capital of India?", ("delhi",)),
        ("What is the largest country in the world?", ("russia",)),
        ("What is the currency of Japan?", ("yen",)),
        ("Which planet has rings that are easy to see?", ("saturn",)),
        ("What is the capital of Ireland?", ("dublin",)),
        ("Who invented the telephone?", ("bell", "graham")),
        ("What is the main language spoken in Mexico?", ("spanish",)),
        ("How many legs does a spider have?", _n(8, "eight")),
        ("What fruit is dried to make raisins?", ("grape", "grapes")),
        ("What is the opposite of hot?", ("cold",)),
        ("Which ocean lies between Europe and America?", ("atlantic",)),
    )
    + _kind(
        "arithmetic",
        ("What is two plus three?", _n(5, "five")),
        ("What is twelve times three?", _n(36, "thirty six")),
        ("What is ten minus four?", _n(6, "six")),
        ("What is seven times eight?", _n(56, "fifty six")),
        ("What is one hundred divided by four?", _n(25, "twenty five")),
        ("What is nine plus nine?", _n(18, "eighteen")),
        ("What is half of fifty?", _n(25, "twenty five")),
        ("What is fifteen plus twenty?", _n(35, "thirty five")),
        ("What is six times six?", _n(36, "thirty six")),
        ("What is twenty minus seven?", _n(13, "thirteen")),
        ("What is three squared?", _n(9, "nine")),
        ("What is the square root of sixty four?", _n(8, "eight")),
        ("What is eleven plus eleven?", _n(22, "twenty two")),
        ("What is four times five?", _n(20, "twenty")),
        ("What is ninety divided by nine?", _n(10, "ten")),
        ("What is a hundred minus one?", _n(99, "ninety nine")),
        ("What is eight plus seven?", _n(15, "fifteen")),
        ("What is double twelve?", _n(24, "twenty four")),
        ("What is five times nine?", _n(45, "forty five")),
        ("What is thirty plus forty?", _n(70, "seventy")),
    )
    + _kind(
        "units",
        ("How many minutes are in an hour?", _n(60, "sixty")),
        ("How many centimetres are in a metre?", _n(100, "hundred")),
        ("How many grams are in a kilogram?", ("1000", "thousand")),
        ("How many seconds are in a minute?", _n(60, "sixty")),
        ("How many days are in a week?", _n(7, "seven")),
        ("How many hours are in a day?", _n(24, "twenty four")),
        ("How many months are in a year?", _n(12, "twelve")),
        ("How many millilitres are in a litre?", ("1000", "1,000", "thousand")),
        ("How many metres are in a kilometre?", ("1000", "1,000", "thousand")),
        ("How many inches are in a foot?", _n(12, "twelve")),
        ("How many weeks are in a year?", _n(52, "fifty two")),
        ("How many feet are in a yard?", _n(3, "three")),
        ("How many ounces are in a pound?", _n(16, "sixteen")),
        ("How many years are in a century?", _n(100, "hundred")),
        ("How many years are in a decade?", _n(10, "ten")),
    )
    + _kind(
        "dates",
        ("Which month comes after April?", ("may",)),
        ("Which month comes before June?", ("may",)),
        ("What day comes after Monday?", ("tuesday",)),
        ("What day comes before Friday?", ("thursday",)),
        ("How many days are in February in a leap year?", _n(29, "twenty nine")),
        ("What is the first month of the year?", ("january",)),
        ("What is the last month of the year?", ("december",)),
        ("In which month is Christmas?", ("december",)),
        ("How many days are in September?", _n(30, "thirty")),
        ("What season comes after winter?", ("spring",)),
        ("What season comes after summer?", ("autumn", "fall")),
        ("Which month has Halloween?", ("october",)),
        ("How many days are in a year?", _n(365, "three hundred sixty five")),
        ("What is the day after Saturday?", ("sunday",)),
        ("Which month comes after October?", ("november",)),
    )
    + _kind(
        "definitions",
        ("What is a noun?", ("name", "names", "person", "place", "thing", "word")),
        ("What is photosynthesis?", ("light", "sunlight", "energy", "plants", "plant")),
        ("What is a volcano?", ("lava", "magma", "eruption", "erupts", "mountain")),
        ("What is gravity?", ("force", "pull", "pulls", "attract", "attraction", "mass")),
        ("What does a thermometer measure?", ("temperature",)),
        ("What is a synonym?", ("same", "similar", "meaning")),
        ("What is a mammal?", ("milk", "warm", "hair", "fur", "animal", "animals")),
        ("What is an island?", ("water", "land", "surrounded")),
        ("What does a barometer measure?", ("pressure", "air", "atmospheric")),
        ("What is a vegetarian?", ("meat", "vegetables", "plants", "plant")),
        ("What is a haiku?", ("poem", "poetry", "syllables", "lines")),
        ("What is a compass used for?", ("direction", "directions", "north", "navigation")),
        ("What is an orchestra?", ("musicians", "music", "instruments", "group")),
        ("What is a glacier?", ("ice",)),
        ("What is democracy?", ("people", "vote", "voting", "elect", "government")),
    )
    + _kind(
        "advice",
        ("How can I sleep better?", ("sleep", "bed", "bedtime", "routine", "caffeine", "screens")),
        ("What should I do if I have a headache?", ("water", "rest", "drink", "pain", "doctor")),
        ("How do I keep my plants healthy?", ("water", "light", "sunlight", "soil")),
        ("How can I save money on groceries?", ("list", "budget", "plan", "sales", "bulk")),
        (
            "What is a good way to start running?",
            ("slow", "slowly", "walk", "walking", "short", "pace", "jog", "jogging", "warm"),
        ),
        ("How can I learn a new language?", ("practice", "practise", "speak", "app", "daily")),
        ("How do I make a good cup of tea?", ("water", "boil", "boiling", "steep", "minutes")),
        ("What should I pack for a beach day?", ("sunscreen", "towel", "water", "hat")),
        ("How can I stay focused while working?", ("breaks", "break", "distractions", "phone")),
        ("What can I cook with eggs?", ("omelette", "omelet", "scrambled", "frittata", "boiled")),
        ("How do I calm down when I'm stressed?", ("breathe", "breath", "breathing", "walk")),
        ("How often should I water a cactus?", ("week", "weeks", "month", "dry", "rarely")),
        ("How can I drink more water?", ("bottle", "glass", "reminder", "reminders")),
        ("What is a good gift for a friend who likes books?", ("book", "books", "bookmark")),
        ("How do I get rid of hiccups?", ("water", "breath", "hold", "sugar")),
    )
    + _kind(
        "time",
        ("What time is it?", CLOCK_WORDS),
        ("What time is it right now?", CLOCK_WORDS),
        ("Can you tell me the time?", CLOCK_WORDS),
        (
            "What is today's date?",
            (
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ),
        ),  # fmt: skip
        (
            "What day of the week is it?",
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        ),  # fmt: skip
        ("Do you know what time it is?", CLOCK_WORDS),
    )
)

# Said first, each in a conversation of its own: the facts the memory questions ask about. Only
# these may be stored; every other question in the set stores nothing.
TO_REMEMBER: tuple[str, ...] = (
    "Please remember that my sister is called Ana.",
    "Remember that my favourite colour is green.",
    "Please remember that I am allergic to peanuts.",
    "Remember that my dog is called Rex.",
    "Please remember that I live in Lisbon.",
    "Remember that my daughter plays the violin.",
)
MEMORY_QUESTIONS: tuple[AnswerCase, ...] = _kind(
    "memory",
    ("What is my sister called?", ("ana", "anna")),
    ("What is my favourite colour?", ("green",)),
    ("What am I allergic to?", ("peanuts", "peanut")),
    ("What is my dog's name?", ("rex",)),
    ("Where do I live?", ("lisbon",)),
    ("What instrument does my daughter play?", ("violin",)),
)

# Eight voices of several accents: Piper's, flite's three and four of espeak-ng's.
ANSWER_VOICES: tuple[str, ...] = (
    "en_US-joe-medium",
    "flite-slt",
    "flite-rms",
    "flite-awb",
    "espeak-en-us",
    "espeak-en-gb",
    "espeak-en-gb-scotland",
    "espeak-en-029",
)
