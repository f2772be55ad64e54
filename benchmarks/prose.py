# ruff: noqa: SIM905 - word lists are written as one string and split, for readability
"""Seeded generator of FIR-like narrative text that compresses like real prose (gzip about 3-5x), not random bytes.

Each record gets its own cast (complainant, accused, place, dates, amounts) and a varied narrative built from
sentence templates over a vocabulary of Indian person and place names, police and legal phrases. The FIR
document restates the complaint inside a fixed form, as AFIRGen's generated FIRs do.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

FIRST = (
    "Aarav Abhishek Aditi Aditya Ajay Akash Akshay Alok Amit Amrita Anand Anil Anita Anjali Ankit Anup Arjun Arun "
    "Aruna Asha Ashok Bhavna Bharat Chandan Chetan Deepa Deepak Dev Dinesh Divya Farhan Gaurav Geeta Gopal Harish "
    "Hemant Imran Indira Ishaan Jagdish Jaya Jyoti Kabir Kamal Kavita Kiran Krishna Kunal Lakshmi Lalit Madhu "
    "Mahesh Manish Manoj Meena Mohan Mukesh Nandini Naveen Neha Nikhil Nisha Pankaj Pooja Pradeep Prakash Pramod "
    "Prashant Preeti Priya Rahul Rajesh Rakesh Ramesh Ravi Rekha Ritu Rohan Rohit Sachin Sandeep Sangeeta Sanjay "
    "Santosh Sarita Satish Shalini Shankar Sharda Shweta Siddharth Sneha Sonia Sunil Sunita Suresh Swati Tarun "
    "Uma Usha Varun Vijay Vikram Vinod Vishal Yogesh Zoya Fatima Salim Mohammed Harpreet Gurpreet Jaspreet Baljit "
    "Selvam Murugan Lakshmanan Venkatesh Srinivas Padma Revathi Kannan Anbu Thomas Joseph Mary Biju Shaji Anoop"
).split()
LAST = (
    "Sharma Verma Gupta Singh Kumar Yadav Patel Shah Mehta Joshi Desai Reddy Rao Naidu Iyer Iyengar Nair Menon "
    "Pillai Kurup Das Ghosh Bose Banerjee Chatterjee Mukherjee Sen Roy Dutta Mishra Pandey Tiwari Dubey Trivedi "
    "Chauhan Rathore Thakur Saxena Srivastava Agarwal Jain Bansal Goyal Mittal Kapoor Khanna Malhotra Chopra Arora "
    "Bhatia Sethi Gill Sandhu Dhillon Grewal Khan Ansari Qureshi Siddiqui Shaikh Pathan Fernandes D'Souza Pereira "
    "Kulkarni Deshpande Patil Pawar Jadhav Shinde Gaikwad More Hegde Shetty Gowda Murthy Subramanian Krishnan "
    "Raman Natarajan Chandran Mathew Varghese Kurian Baruah Bora Gogoi Sahu Mohanty Panda Behera Hansda Murmu"
).split()
CITIES = (
    "Mumbai Delhi Bengaluru Hyderabad Ahmedabad Chennai Kolkata Pune Jaipur Lucknow Kanpur Nagpur Indore Thane "
    "Bhopal Visakhapatnam Patna Vadodara Ghaziabad Ludhiana Agra Nashik Faridabad Meerut Rajkot Varanasi Srinagar "
    "Aurangabad Dhanbad Amritsar Allahabad Ranchi Howrah Coimbatore Jabalpur Gwalior Vijayawada Jodhpur Madurai "
    "Raipur Kota Guwahati Chandigarh Solapur Mysuru Tiruchirappalli Bareilly Aligarh Moradabad Jalandhar "
    "Bhubaneswar Salem Warangal Guntur Thiruvananthapuram Kochi Kozhikode Dehradun Udaipur Ajmer Mangaluru "
    "Belagavi Jamshedpur Cuttack Gorakhpur Noida Gurugram Panaji Shimla Puducherry Siliguri Durgapur Asansol"
).split()
STATES = (
    "Maharashtra,Delhi,Karnataka,Telangana,Gujarat,Tamil Nadu,West Bengal,Rajasthan,Uttar Pradesh,Madhya Pradesh,"
    "Andhra Pradesh,Bihar,Punjab,Jammu and Kashmir,Jharkhand,Chhattisgarh,Assam,Chandigarh,Odisha,Kerala,"
    "Uttarakhand,Goa,Himachal Pradesh,Haryana"
).split(",")
LOCALITIES = (
    "Gandhi Nagar,Nehru Colony,Shivaji Park,Rajendra Nagar,Laxmi Nagar,MG Road,Station Road,Civil Lines,Sadar Bazaar,"
    "Model Town,Ashok Vihar,Indira Nagar,Ambedkar Colony,Subhash Chowk,Tilak Road,Patel Nagar,Vivekananda Street,"
    "Netaji Subhash Marg,Old City,New Colony,Industrial Area Phase II,Sector 14,Sector 62,Railway Colony,"
    "Bus Stand Road,"
    "Chandni Chowk,Karol Bagh,Andheri East,Dadar West,Koramangala,Jayanagar,Banjara Hills,Salt Lake,Anna Nagar,"
    "T Nagar,Hazratganj,Aminabad,Navrangpura,Maninagar,Vaishali Nagar,Malviya Nagar,Kothrud,Hadapsar,Whitefield,"
    "Electronic City,Secunderabad,Begumpet,Park Street,Ballygunge,Adyar,Velachery,Palayam,Fort Kochi,Rajpur Road"
).split(",")
PLACES = (
    "near the temple gate,outside the vegetable market,at the bus stop,in front of the State Bank ATM,"
    "near the railway over-bridge,at the petrol pump,inside the shopping complex,near the government school,"
    "at the auto-rickshaw stand,in the parking area of the hospital,near the post office,at the crossing near the "
    "police chowki,on the service road of the highway,in the lane behind the mosque,near the community hall,"
    "outside the cinema hall,at the tea stall,near the water tank,in the courtyard of the building,"
    "at the entrance of the metro station,near the gurudwara,outside the college gate,on the footpath near the park"
).split(",")
ITEMS = (
    "a gold chain weighing about 20 grams,a mobile phone of Samsung make,a Redmi mobile phone,an iPhone 13,"
    "a leather purse containing cash and an Aadhaar card,a laptop bag with a Dell laptop,a pair of gold earrings,"
    "a silver anklet,a Hero Splendor motorcycle,a Honda Activa scooter,a bicycle,cash kept in the almirah,"
    "a wrist watch of Titan make,two gas cylinders,a television set,copper wire worth about forty thousand rupees,"
    "jewellery kept in a steel box,a handbag containing documents,an ATM card and a PAN card,a tablet computer,"
    "a Bajaj Pulsar motorcycle,a Maruti Swift car,the shop's cash box,construction material,a sewing machine"
).split(",")
RELATIONS = (
    "brother,sister,wife,husband,son,daughter,neighbour,cousin,father,mother,friend,colleague,landlord,tenant".split(
        ","
    )
)
OFFENCES = [
    ("BNS 303(2)", "Theft", "dishonestly taking movable property out of the possession of the complainant"),
    ("BNS 304", "Snatching", "suddenly and forcibly seizing movable property from the person of the complainant"),
    ("BNS 309(4)", "Robbery", "theft accompanied by the use or threat of force"),
    ("BNS 318(4)", "Cheating", "deceiving the complainant and inducing delivery of money"),
    ("BNS 115(2)", "Voluntarily causing hurt", "causing bodily pain to the complainant"),
    ("BNS 351(2)", "Criminal intimidation", "threatening the complainant with injury to person and reputation"),
    ("BNS 352", "Intentional insult", "insulting the complainant with intent to provoke breach of peace"),
    ("BNS 85", "Cruelty by husband or relatives", "subjecting the woman to cruelty"),
    ("BNS 324(4)", "Mischief", "causing wrongful loss by damaging property"),
    ("BNS 329(4)", "House trespass", "entering into the dwelling house of the complainant"),
    ("BNS 316(2)", "Criminal breach of trust", "dishonest misappropriation of entrusted property"),
    ("BNS 281", "Rash driving", "driving a vehicle on a public way in a rash and negligent manner"),
    ("IT Act 66C", "Identity theft", "fraudulently making use of the electronic signature or password of another"),
    ("IT Act 66D", "Cheating by personation", "cheating by personation using a computer resource"),
    ("BNS 74", "Assault on a woman", "assault or use of criminal force with intent to outrage her modesty"),
]
ADVERBS = "suddenly,quickly,deliberately,repeatedly,immediately,later,again,apparently,clearly,forcibly".split(",")
TIMES = (
    "early in the morning,around noon,in the afternoon,in the evening,late at night,around midnight,"
    "after dinner,before sunrise,during the lunch break,while returning from work"
).split(",")

TEMPLATES = [
    "I, {cn}, aged about {age} years, resident of {addr}, wish to report the following incident.",
    "On {date} {time}, I was walking {place} in {loc}, {city}, when the incident took place.",
    "Two unknown persons came on a motorcycle and {adv} snatched {item} from me and fled towards {loc2}.",
    "The accused {an}, who lives in the same locality, has been harassing my family for the last {n} months.",
    "When I returned home I found that the lock of the main door was broken and {item} was missing.",
    "I immediately called the police control room at 112 and informed my {rel} {wn} about the matter.",
    "The value of the stolen property is approximately Rs. {amt}, and I have the purchase bill with me.",
    "One of the persons was wearing a {colour} shirt and was about {h} feet tall, with a thin build.",
    "I can identify the accused if I see them again, and my {rel} {wn} was also present at the spot.",
    "I received a call from an unknown number claiming to be from the bank and asking for the OTP.",
    "Believing the caller, I shared the details and Rs. {amt} was debited from my account in {k} transactions.",
    "The accused {an} abused me in filthy language and threatened to kill me if I went to the police.",
    "He pushed me to the ground, due to which I suffered injuries on my {part} and was taken to the hospital.",
    "The medical examination was conducted at the District Hospital, {city}, and the report is enclosed.",
    "I had given Rs. {amt} to {an} for arranging a job in {city2}, but he neither gave the job nor returned the money.",
    "Whenever I ask for the money, {an} avoids me and now he has stopped answering my calls.",
    "The vehicle bearing registration number {reg} was parked {place} and was found missing the next morning.",
    "I searched for it in the nearby areas and asked the shopkeepers, but could not find any trace of it.",
    "The CCTV camera installed at the {shop} may have recorded the incident, and its footage should be checked.",
    "My {rel} {wn} told me that she had seen two young men loitering near our house {time} on the previous day.",
    "After the marriage, my husband {an} and his family started demanding dowry of Rs. {amt} and a car.",
    "When my parents could not meet the demand, they began to beat me and did not give me food for days.",
    "A truck coming from the side of {loc2} at high speed hit my {rel}'s scooter from behind.",
    "The driver did not stop and fled from the spot, but a passer-by noted the number as {reg}.",
    "Some persons entered the shop, damaged the furniture and took away the cash box containing Rs. {amt}.",
    "I request that a case be registered and strict legal action be taken against the accused persons.",
    "I have not reported this matter to any other police station and this is my first complaint.",
    "The complaint has been read over to me in {lang} and I agree that it has been recorded correctly.",
    "My {rel} {wn} and the shopkeeper {wn2} of {loc} can confirm my statement.",
    "The accused persons also took my {item2}, which I had kept in the side pocket of my bag.",
    "This has caused me great mental agony and financial loss, and I fear for the safety of my family.",
    "Earlier also, on {date2}, a similar incident had happened in {loc} but no one had reported it.",
    "I am a {job} by profession and I work at {shop} in {loc}, {city}.",
    "Someone created a fake profile in my name on social media and sent messages asking my friends for money.",
    "The accused {an} took the gold ornaments for safe keeping and later refused to return them.",
    "Please trace my {item2} using its IMEI number, which is {imei}, and return it to me.",
    "The security guard {wn2} of the building saw the accused running away towards {place2}.",
    "I was threatened that if I did not withdraw my complaint, my {rel} would face serious consequences.",
    "The accused persons were under the influence of liquor and were shouting loudly in the street.",
    "The incident happened within the jurisdiction of {ps} Police Station, {city}, {state}.",
]
OPENERS = (
    "",
    "",
    "",
    "Thereafter, ",
    "After some time, ",
    "At about {hh}:{mm} hours, ",
    "On the same day, ",
    "Later, ",
    "In the meantime, ",
    "The next day, ",
    "According to my {rel}, ",
    "As far as I remember, ",
    "To the best of my knowledge, ",
    "Around {hh}:{mm}, ",
    "Soon after that, ",
    "While this was going on, ",
    "At that time, ",
    "Before I could react, ",
    "When I reached {loc}, ",
    "On {date2}, ",
    "Unfortunately, ",
    "Moreover, ",
    "I further state that ",
    "It is pertinent to mention that ",
)
TAILS = (
    "",
    "",
    "",
    "",
    " and this was also seen by {wn}",
    " near the {landmark}",
    " in the presence of my {rel}",
    ", which I later told the beat constable",
    " at about {hh}:{mm} hours",
    " for no reason at all",
    " without saying a word",
    ", as {wn2} can confirm",
    " in broad daylight",
    " while people were watching",
    " before the shops had opened",
    ", and I was too shocked to shout",
    " although I begged him to stop",
    " despite my repeated requests",
)
LANDMARKS = (
    "Hanuman temple,water tank,old banyan tree,municipal school,Ganesh pandal,railway crossing,flyover,primary "
    "health centre,panchayat office,cooperative bank,milk booth,bus depot,ration shop,Sai Baba temple,dargah,"
    "church,cricket ground,cinema hall,bridge over the canal,electricity sub-station"
).split(",")


# A small phrase grammar: subject + verb phrase + object + adverbials, joined by connectors. Its combinations keep
# long exact repeats rare, so the text compresses like real prose rather than like repeated templates.
SUBJECTS = (
    "I,I,I,my {rel},the accused {an},{an},two unknown persons,a man in a {colour} shirt,the shopkeeper {wn2},"
    "the driver of the {vehicle},some boys from {loc2},a woman wearing a {colour} saree,the caller,my neighbour {wn},"
    "the security guard,one of the accused,the person who called himself {wn2},three young men,the auto driver,"
    "the delivery boy,my {rel} {wn},the tenant on the first floor,a stranger,the agent from {city2},the landlord,"
    "{xn},{xn} of {loc2},one {xn} aged about {age2} years,{xn} alias {alias},a person named {xn}"
).split(",")
VERBS = (
    "snatched {item} from,took away {item} from,threatened,abused,hit,followed,called,pushed,stopped,warned,"
    "asked for Rs. {amt} from,demanded money from,grabbed the collar of,chased,saw,noticed,informed,met,"
    "paid Rs. {amt} to,"
    "borrowed {item} from,damaged the {thing} of,shouted at,slapped,cheated,misbehaved with,blocked the way of,"
    "sent messages to,made threatening calls to,waited for,recognised,tried to bribe,complained about,caught,"
    "dragged,insulted,lied to,accompanied,looked for,spoke to,quarrelled with,transferred Rs. {amt} to,"
    "called from mobile number {phone2} to,kicked,bit,robbed,overpowered,misled,blackmailed,stalked,harassed,"
    "locked up,tied the hands of,photographed,filmed,cornered,surrounded,visited,telephoned,ignored,"
    "took Rs. {amt} in cash from,promised a government job to,sold a fake gold biscuit to,handed a parcel to,"
    "showed a knife to,snatched the bag of,opened the lock of the room of,pulled the dupatta of,scolded,"
    "forced,defamed,attacked,teased,confronted,returned half the money to,demanded a bribe from"
).split(",")
OBJECTS = (
    "me,me,my {rel},{wn},us,the shopkeeper,my {rel} {wn},the watchman,the children,my family,the customers,"
    "the conductor,everyone present there,the old man,her,him,them,the complainant,{yn},{yn} and {xn},"
    "{yn} from {city2},a boy aged {age2}"
).split(",")
ADVERBIALS = (
    "near the {landmark},in {loc},at about {hh}:{mm},on {date2},{place},with a {weapon},on his {vehicle},"
    "in front of {wn2},while I was {activity},because of {reason},for about {n} minutes,twice,again and again,"
    "from behind,without any reason,in a drunken state,near my house,on the main road of {loc2},"
    "in the presence of {k} witnesses,after the argument,outside {shop},when nobody was around,"
    "at the crossing near {landmark2},in the narrow lane,on the staircase,in the name of {wn},"
    "on {k} occasions,last {weekday},on the night of {date2},through WhatsApp,over the phone from {phone2},"
    "in the {floor} floor corridor,inside the {vehicle},by the side of the {landmark},with {k} other persons,"
    "as soon as the power went off,in the middle of the night,soon after I got off the {vehicle},"
    "in a loud voice,in a very rude manner,with the help of his friends,at gunpoint,in a threatening tone,"
    "just {n} days before the festival,on the pretext of {reason},opposite house number {hn},"
    "about {n} metres from the {landmark2},behind the {landmark},on the way to {city2}"
).split(",")
CONNECTORS = (
    ". ,. ,. ,. , and then , after which , but , so , because , while , and , although , until , before , when "
).split(",")
WEAPONS = "stick,iron rod,knife,brick,belt,bottle,cricket bat,stone,chain,sharp object,hockey stick".split(",")
VEHICLES = "motorcycle,scooter,auto-rickshaw,white car,tempo,tractor,e-rickshaw,bicycle,truck,bus,jeep,black SUV".split(
    ","
)
ACTIVITIES = (
    "returning from the market,waiting for the bus,opening my shop,talking on the phone,dropping my son at school,"
    "withdrawing cash,walking my dog,buying vegetables,coming back from the temple,parking my scooter,sleeping,"
    "cooking dinner,locking the shutter,counting the cash,filling water,going to the office,"
    "standing in the queue,collecting the rent,repairing the fence,unloading goods"
).split(",")
REASONS = (
    "an old property dispute,a quarrel over parking,money he owed me,a dispute about the boundary wall,"
    "jealousy,the loan I had taken,a complaint I made earlier,an argument between the children,"
    "the rent that was due,the water connection,the dowry demand,loud music at night,a land deal,"
    "a road accident last year,political rivalry,an unpaid bill,the election,a family matter"
).split(",")
WEEKDAYS = "Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday".split(",")
FLOORS = "ground,first,second,third,fourth".split(",")
THINGS = "car,shop,door,window,scooter,gate,phone,signboard,pipeline,fence,kiosk,cart,meter".split(",")


FIR_HEADER = (
    "FIRST INFORMATION REPORT\n(Under Section 173 B.N.S.S.)\n"
    "1. District: {city}   P.S.: {ps}   Year: {year}   FIR No.: {fir}   Date: {date}\n"
    "2. Acts and Sections: {acts}\n"
    "3. (a) Occurrence of offence: {odate} {time}\n   (b) Information received at P.S.: {rdate}\n"
    "   (c) General Diary reference: Entry No. {gd}\n"
    "4. Type of information: {kind}\n"
    "5. Place of occurrence: {place}, {loc}, {city}, {state}\n"
    "6. Complainant / Informant: {cn}, aged {age} years, {job}, resident of {addr}, Phone: {phone}\n"
    "7. Details of known / suspected / unknown accused with full particulars: {accused}\n"
    "8. Reasons for delay in reporting by the complainant: {delay}\n"
    "9. Particulars of properties stolen / involved: {item}\n"
    "10. Total value of properties stolen: Rs. {amt}\n"
    "11. Inquest report / U.D. case No., if any: Nil\n"
    "12. First Information contents:\n"
)
FIR_FOOTER = (
    "\n13. Action taken: Since the above information reveals commission of offence(s) under the sections "
    "mentioned at item No. 2, a case has been registered and the investigation has been taken up. "
    "The investigation is entrusted to {io}, {rank}, who has been directed to take up the investigation. "
    "The FIR was read over to the complainant / informant, admitted to be correctly recorded, and a copy was "
    "given to the complainant / informant free of cost.\n"
    "14. Signature / Thumb impression of the complainant / informant.\n"
    "15. Date and time of despatch to the court: {rdate}\n"
    "Signature of Officer in charge, Police Station: {sho}, {rank2}, No. {badge}\n"
)
COLOURS = "red,blue,black,white,green,yellow,grey,brown,checked,striped".split(",")
PARTS = "head,left arm,right arm,back,face,knee,leg,shoulder,hand,forehead".split(",")
SHOPS = (
    "the medical store,the jewellery shop,the kirana store,the petrol pump,the bank branch,the mobile shop,"
    "the hardware shop,the hotel,the garment showroom,the sweet shop,the school,the hospital"
).split(",")
JOBS = (
    "shopkeeper,teacher,driver,labourer,clerk,farmer,nurse,engineer,student,housewife,tailor,vendor,accountant".split(
        ","
    )
)
LANGS = "Hindi,Marathi,Tamil,Telugu,Kannada,Bengali,Gujarati,Malayalam,Punjabi,Odia,English,Urdu".split(",")
RANKS = "Sub-Inspector,Assistant Sub-Inspector,Inspector,Head Constable".split(",")
STATUSES = ("draft", "pending_validation", "validated", "finalized", "finalized", "finalized")
KINDS = ("Written", "Oral", "Written", "Electronic")
DELAYS = ("No delay", "No delay", "The complainant was in hospital", "The complainant was searching for the property")


class Prose:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.base = datetime(2023, 1, 1)  # noqa: DTZ001 - synthetic naive timestamps, stored as DATETIME

    def name(self) -> str:
        r = self.rng
        return f"{r.choice(FIRST)} {r.choice(LAST)}"

    def _date(self, days: int = 900) -> datetime:
        return self.base + timedelta(seconds=self.rng.randrange(days * 86400))

    def _reg(self) -> str:
        r = self.rng
        return f"{r.choice('MH DL KA TS GJ TN WB RJ UP MP'.split())}-{r.randint(1, 50):02d}-{r.choice('ABCDEFGHJK')}{r.choice('ABCDEFGHJK')}-{r.randint(1000, 9999)}"  # noqa: E501

    def _sentence(self, template: str, cast: dict[str, object]) -> str:
        """One sentence: an optional opener, the template, an optional tail; times and landmarks drawn fresh."""
        r = self.rng
        cast["hh"] = f"{r.randint(0, 23):02d}"
        cast["mm"] = f"{r.randint(0, 59):02d}"
        cast["landmark"] = r.choice(LANDMARKS)
        core = template.format(**cast)
        opener = r.choice(OPENERS).format(**cast)
        if opener:
            core = opener + core[0].lower() + core[1:] if not core.startswith("I ") else opener + core
        tail = r.choice(TAILS)
        if tail and core.endswith("."):
            core = core[:-1] + tail.format(**cast) + "."
        return core

    def _free_sentence(self, cast: dict[str, object]) -> str:
        r = self.rng
        choice = r.choice
        cast["hh"] = f"{r.randint(0, 23):02d}"
        cast["mm"] = f"{r.randint(0, 59):02d}"
        cast["landmark"] = choice(LANDMARKS)
        cast["landmark2"] = choice(LANDMARKS)
        cast["weapon"] = choice(WEAPONS)
        cast["vehicle"] = choice(VEHICLES)
        cast["activity"] = choice(ACTIVITIES)
        cast["reason"] = choice(REASONS)
        cast["thing"] = choice(THINGS)
        cast["phone2"] = f"{r.randint(6, 9)}{r.randint(0, 999999999):09d}"
        cast["weekday"] = choice(WEEKDAYS)
        cast["floor"] = choice(FLOORS)
        cast["hn"] = f"{r.randint(1, 400)}/{r.randint(1, 40)}"
        cast["n"] = r.randint(2, 60)
        cast["xn"] = self.name()
        cast["yn"] = self.name()
        cast["age2"] = r.randint(12, 80)
        cast["alias"] = choice(FIRST)
        parts = [choice(OPENERS)]
        for clause in range(r.randint(1, 3)):
            if clause:
                parts.append(choice(CONNECTORS))
            parts.append(f"{choice(SUBJECTS)} {choice(VERBS)} {choice(OBJECTS)}")
            for _ in range(r.randint(0, 2)):
                parts.append(" " + choice(ADVERBIALS))
        text = "".join(parts).format(**cast)
        text = ". ".join(p[:1].upper() + p[1:] for p in text.split(". "))
        return text + "."

    def _narrative(self, cast: dict[str, object], first: int, templated: int, free: int) -> str:
        r = self.rng
        body = [TEMPLATES[0].format(**cast), TEMPLATES[1].format(**cast)][:first]
        sents = [self._sentence(t, cast) for t in r.sample(TEMPLATES[2:], templated)]
        sents += [self._free_sentence(cast) for _ in range(free)]
        r.shuffle(sents)
        body += sents
        paras, i = [], 0
        while i < len(body):
            step = r.randint(2, 4)
            paras.append(" ".join(body[i : i + step]))
            i += step
        return "\n\n".join(paras)

    def record(self, fir_id: int) -> dict[str, object]:
        r = self.rng
        choice = r.choice
        city, city2 = choice(CITIES), choice(CITIES)
        loc, loc2 = choice(LOCALITIES), choice(LOCALITIES)
        state = choice(STATES)
        created = self._date()
        occurred = created - timedelta(hours=r.randint(1, 96))
        cast = {
            "cn": self.name(),
            "an": self.name(),
            "wn": self.name(),
            "wn2": self.name(),
            "age": r.randint(19, 78),
            "addr": f"House No. {r.randint(1, 999)}, {choice(LOCALITIES)}, {city}",
            "date": occurred.strftime("%d/%m/%Y"),
            "date2": self._date().strftime("%d/%m/%Y"),
            "time": choice(TIMES),
            "place": choice(PLACES),
            "place2": choice(PLACES),
            "loc": loc,
            "loc2": loc2,
            "city": city,
            "city2": city2,
            "state": state,
            "adv": choice(ADVERBS),
            "item": choice(ITEMS),
            "item2": choice(ITEMS),
            "rel": choice(RELATIONS),
            "n": r.randint(2, 18),
            "k": r.randint(2, 9),
            "amt": f"{r.randint(2, 900) * 500:,}",
            "colour": choice(COLOURS),
            "h": choice(("five", "five and a half", "six", "about five")),
            "part": choice(PARTS),
            "reg": self._reg(),
            "shop": choice(SHOPS),
            "lang": choice(LANGS),
            "job": choice(JOBS),
            "imei": "".join(str(r.randrange(10)) for _ in range(15)),
            "ps": f"{choice(LOCALITIES)}",
        }
        complaint = self._narrative(cast, 2, r.randint(1, 4), r.randint(4, 10))
        restated = self._narrative(cast, 1, r.randint(0, 2), r.randint(4, 9))
        offences = r.sample(OFFENCES, r.randint(1, 3))
        year = created.year
        fir_number = f"FIR/{year}/{state[:2].upper()}/{fir_id:08d}"
        hdr = dict(cast)
        hdr.update(
            fir=fir_number,
            year=year,
            acts=", ".join(o[0] for o in offences),
            odate=occurred.strftime("%d/%m/%Y"),
            rdate=created.strftime("%d/%m/%Y %H:%M"),
            gd=r.randint(1, 99),
            kind=choice(KINDS),
            phone=f"9{r.randint(100000000, 999999999)}",
            accused=cast["an"] if r.random() < 0.5 else "Unknown persons, description as given in the complaint",
            delay=choice(DELAYS),
            io=self.name(),
            rank=choice(RANKS),
            sho=self.name(),
            rank2="Inspector of Police",
            badge=r.randint(1000, 99999),
        )
        fir_content = FIR_HEADER.format(**hdr) + restated + FIR_FOOTER.format(**hdr)
        violations = [
            {
                "section": o[0],
                "title": o[1],
                "description": f"The facts disclose {o[2]}.",
                "confidence": round(r.uniform(0.55, 0.99), 2),
                "evidence": self._free_sentence(cast),
            }
            for o in offences
        ]
        status = choice(STATUSES)
        finalized = created + timedelta(minutes=r.randint(5, 600)) if status == "finalized" else None
        return {
            "id": fir_id,
            "fir_number": fir_number,
            "session_id": f"{r.getrandbits(128):032x}",
            "complaint_text": complaint,
            "fir_content": fir_content,
            "violations_json": json.dumps(violations, ensure_ascii=False),
            "status": status,
            "finalized_at": finalized,
            "created_at": created,
        }
