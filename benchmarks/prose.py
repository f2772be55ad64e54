# ruff: noqa: SIM905 - word lists are written as one string and split, for readability
"""Seeded generator of FIR-like narrative text that compresses like real prose, not like templates or random bytes.

Real complaints repeat words and short phrases but rarely whole sentences, and they are full of particulars:
names, addresses, times, amounts, vehicle and phone numbers. The generator therefore composes every sentence from
a phrase grammar (free subject-verb-object clauses with openers, connectors and adverbials, drawn Zipf-like, plus
about fifty other sentence forms: descriptions of persons, speech, property, injuries, fraud, witnesses, history)
over a vocabulary of Indian person and place names, police and legal phrases, and a synonym pass rewrites common
words and phrases a different way each time. Each record gets its own small cast (a few people, places, dates,
amounts, items it keeps coming back to) and numbers written in varied formats. The FIR document is a short form
whose contents are a third-person account: some fresh sentences, some retold from the complaint (pronouns
changed); the JSON's evidence quotes complaint sentences. `gzip -6` compresses the resulting SQL dump about 4.5x
(English prose gives about 3x; a dump also has SQL syntax, the form and the JSON keys).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta


def _words(s: str) -> list[str]:
    return s.split()


def _items(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


FIRST_M = _words(
    "Aarav Abhishek Aditya Ajay Akash Akshay Alok Amit Anand Anil Ankit Anup Arjun Arun Ashok Bharat Chandan "
    "Chetan Deepak Dev Dinesh Farhan Gaurav Gopal Harish Hemant Imran Ishaan Jagdish Kabir Kamal Kunal Lalit "
    "Mahesh Manish Manoj Mohan Mukesh Naveen Nikhil Pankaj Pradeep Prakash Pramod Prashant Rahul Rajesh Rakesh "
    "Ramesh Ravi Rohan Rohit Sachin Sandeep Sanjay Santosh Satish Shankar Siddharth Sunil Suresh Tarun Varun "
    "Vijay Vikram Vinod Vishal Yogesh Salim Mohammed Harpreet Gurpreet Jaspreet Baljit Selvam Murugan Lakshmanan "
    "Venkatesh Srinivas Kannan Anbu Thomas Joseph Biju Shaji Anoop Bhupendra Devendra Dharmendra Girish Hari "
    "Irfan Javed Jitendra Kailash Kishore Laxman Mahendra Mithun Nagaraj Narendra Om Parvez Raghav Rajkumar "
    "Ramakrishna Sameer Shyam Subhash Sudhir Tushar Umesh Vasant Wasim Yusuf Zahid Abdul Aslam Bablu Chhotu "
    "Dilip Ganesh Hanumant Jayant Kartik Madhav Nitin Omkar Pawan Rajendra Sharad Tejas Uday Vivek Anwar Balu "
    "Dayanand Eknath Fakruddin Govind Himanshu Inder Kuldeep Lokesh Mangal Nandan Prem Ranjit Sohan Tilak"
)
FIRST_F = _words(
    "Aditi Amrita Anita Anjali Aruna Asha Bhavna Deepa Divya Geeta Indira Jaya Jyoti Kavita Kiran Lakshmi Madhu "
    "Meena Nandini Neha Nisha Pooja Preeti Priya Rekha Ritu Sangeeta Sarita Shalini Sharda Shweta Sneha Sonia "
    "Sunita Swati Uma Usha Zoya Fatima Padma Revathi Mary Ambika Bindu Chitra Durga Farida Gayatri Hema Ishita "
    "Jasleen Kamla Leela Malti Nirmala Parveen Radha Rukhsana Savita Tara Urmila Vandana Yamuna Archana Babita "
    "Champa Dolly Elizabeth Gita Heena Jamuna Kusum Lata Manju Nazia Poonam Rani Saroj Tulsi Vimla Anusha Bharti"
)
FIRST = FIRST_M + FIRST_F
LAST = _words(
    "Sharma Verma Gupta Singh Kumar Yadav Patel Shah Mehta Joshi Desai Reddy Rao Naidu Iyer Iyengar Nair Menon "
    "Pillai Kurup Das Ghosh Bose Banerjee Chatterjee Mukherjee Sen Roy Dutta Mishra Pandey Tiwari Dubey Trivedi "
    "Chauhan Rathore Thakur Saxena Srivastava Agarwal Jain Bansal Goyal Mittal Kapoor Khanna Malhotra Chopra Arora "
    "Bhatia Sethi Gill Sandhu Dhillon Grewal Khan Ansari Qureshi Siddiqui Shaikh Pathan Fernandes D'Souza Pereira "
    "Kulkarni Deshpande Patil Pawar Jadhav Shinde Gaikwad More Hegde Shetty Gowda Murthy Subramanian Krishnan "
    "Raman Natarajan Chandran Mathew Varghese Kurian Baruah Bora Gogoi Sahu Mohanty Panda Behera Hansda Murmu "
    "Tripathi Shukla Awasthi Bajpai Chaturvedi Dwivedi Upadhyay Rawat Negi Bisht Rana Chaudhary Jat Meena Bairwa "
    "Solanki Parmar Chavan Kamble Salunkhe Bhosale Naik Kamath Pai Bhat Acharya Hussain Rizvi Mirza Beg Lodhi "
    "Kushwaha Maurya Nishad Paswan Manjhi Oraon Tirkey Lakra Ekka Minz Topno Soren Hembrom Tudu Barman Sarkar "
    "Mondal Biswas Haldar Pradhan Nayak Swain Jena Rout Samal Lenka Sethy Thapa Gurung Lepcha Bhutia Wangchuk"
)
CITIES = _words(
    "Mumbai Delhi Bengaluru Hyderabad Ahmedabad Chennai Kolkata Pune Jaipur Lucknow Kanpur Nagpur Indore Thane "
    "Bhopal Visakhapatnam Patna Vadodara Ghaziabad Ludhiana Agra Nashik Faridabad Meerut Rajkot Varanasi Srinagar "
    "Aurangabad Dhanbad Amritsar Prayagraj Ranchi Howrah Coimbatore Jabalpur Gwalior Vijayawada Jodhpur Madurai "
    "Raipur Kota Guwahati Chandigarh Solapur Mysuru Tiruchirappalli Bareilly Aligarh Moradabad Jalandhar "
    "Bhubaneswar Salem Warangal Guntur Thiruvananthapuram Kochi Kozhikode Dehradun Udaipur Ajmer Mangaluru "
    "Belagavi Jamshedpur Cuttack Gorakhpur Noida Gurugram Panaji Shimla Puducherry Siliguri Durgapur Asansol "
    "Bhilai Bikaner Bhagalpur Muzaffarpur Darbhanga Gaya Hubballi Davanagere Kolhapur Sangli Latur Nanded Akola "
    "Amravati Jalgaon Dhule Ahmednagar Satara Ujjain Sagar Rewa Satna Jhansi Mathura Firozabad Saharanpur "
    "Muzaffarnagar Rampur Shahjahanpur Ayodhya Sultanpur Bathinda Patiala Hoshiarpur Karnal Panipat Rohtak "
    "Hisar Sonipat Ambala Haridwar Rishikesh Haldwani Nellore Kurnool Kakinada Tirupati Anantapur Karimnagar "
    "Nizamabad Khammam Vellore Erode Tirunelveli Thanjavur Dindigul Thrissur Kollam Kannur Alappuzha Palakkad "
    "Sambalpur Rourkela Berhampur Bilaspur Korba Durg Bokaro Hazaribagh Deoghar Silchar Dibrugarh Jorhat Tezpur "
    "Imphal Shillong Aizawl Agartala Kohima Gangtok Itanagar Jammu Anantnag Leh Bhavnagar Jamnagar Junagadh"
)
STATES = _items(
    "Maharashtra,Delhi,Karnataka,Telangana,Gujarat,Tamil Nadu,West Bengal,Rajasthan,Uttar Pradesh,Madhya Pradesh,"
    "Andhra Pradesh,Bihar,Punjab,Jammu and Kashmir,Jharkhand,Chhattisgarh,Assam,Chandigarh,Odisha,Kerala,"
    "Uttarakhand,Goa,Himachal Pradesh,Haryana,Manipur,Meghalaya,Tripura,Sikkim,Mizoram,Nagaland"
)
LOC_STEMS = _words(
    "Gandhi Nehru Shivaji Rajendra Laxmi Indira Ambedkar Subhash Tilak Patel Vivekananda Netaji Shastri Rajiv "
    "Azad Bhagat Ram Krishna Ganesh Shiv Durga Saraswati Ashok Vikas Shanti Prem Anand Sai Pragati Jawahar Kamla "
    "Vijay Jai Sundar Green Lake Hill River Rose Lotus Pearl Royal Golden Kailash Mahavir Gokul Vrindavan Panchsheel "
    "Sarvodaya Adarsh Azad Kirti Surya Chandra Tara Gulmohar Ashoka Basant Sukh Shyam Hanuman Kabir Tulsi Meera "
    "Sadar Purana Naya Chhota Bada Shanti Kaveri Ganga Yamuna Narmada Godavari Krishnaraja Rana Pratap Jhansi "
    "Bapu Sanjay Mehrauli Kalyan Karol Lajpat Malviya Sarojini Mayur Vasant Janak Uttam Mohan Shakti Ekta Mangal"
)
LOC_SUFFIXES = _words(
    "Nagar Nagar Nagar Colony Colony Vihar Puram Enclave Park Layout Extension Chowk Bazaar Marg Road Street Gali "
    "Basti Mohalla Wadi Peth Pally Palayam Halli Ganj Pura Abad Kunj Niketan Society Apartments Garden Tola Para"
)
PLACES = _items(
    "near the temple gate,outside the vegetable market,at the bus stop,in front of the State Bank ATM,"
    "near the railway over-bridge,at the petrol pump,inside the shopping complex,near the government school,"
    "at the auto-rickshaw stand,in the parking area of the hospital,near the post office,at the crossing near the "
    "police chowki,on the service road of the highway,in the lane behind the mosque,near the community hall,"
    "outside the cinema hall,at the tea stall,near the water tank,in the courtyard of the building,"
    "at the entrance of the metro station,near the gurudwara,outside the college gate,on the footpath near the park,"
    "behind the fish market,at the toll plaza,near the sugarcane juice cart,under the flyover,at the taxi stand,"
    "in the basement parking,near the electricity transformer,at the entrance of the mall,outside the bank branch,"
    "at the main gate of the factory,near the dhaba on the bypass,beside the canal,on the platform of the station,"
    "in the compound of the housing society,outside the court complex,near the tuition centre,at the weekly haat"
)
LANDMARKS = _items(
    "Hanuman temple,water tank,old banyan tree,municipal school,Ganesh pandal,railway crossing,flyover,primary "
    "health centre,panchayat office,cooperative bank,milk booth,bus depot,ration shop,Sai Baba temple,dargah,"
    "church,cricket ground,cinema hall,bridge over the canal,electricity sub-station,telephone exchange,"
    "Kali mandir,Jain temple,Idgah,fire station,tehsil office,mandi,bus shelter,girls' hostel,sports complex,"
    "cold storage,brick kiln,pond,clock tower,statue of Dr. Ambedkar,statue of Gandhiji,overhead tank,LIC office"
)
ITEM_KINDS = [
    ("gold chain", "weighing about {g} grams"),
    ("mangalsutra", "of about {g} grams"),
    ("pair of gold earrings", "of about {g} grams"),
    ("gold ring", "with a red stone"),
    ("silver anklet", "weighing {g0} grams"),
    ("mobile phone", "of {brand} make, {colour} in colour"),
    ("{brand} phone", "with two SIM cards"),
    ("leather purse", "containing cash of Rs. {amt2} and an Aadhaar card"),
    ("laptop bag", "with a {lbrand} laptop and its charger"),
    ("wrist watch", "of {wbrand} make"),
    ("motorcycle", "of {mbrand} make, registration number {reg}"),
    ("scooter", "of {sbrand} make, registration number {reg}"),
    ("car", "of {cbrand} make, registration number {reg}"),
    ("bicycle", "of {colour} colour"),
    ("cooking gas cylinder", ""),
    ("television set", "of {lbrand} make"),
    ("copper wire", "of about {g} metres"),
    ("steel box", "containing jewellery"),
    ("handbag", "containing important documents"),
    ("tablet computer", ""),
    ("cash box", "of the shop with about Rs. {amt2}"),
    ("sewing machine", ""),
    ("bag of cement", ""),
    ("submersible pump", "kept in the field"),
    ("battery", "of the tractor"),
    ("goat", "of black colour"),
    ("buffalo", ""),
    ("camera", "of {lbrand} make"),
    ("briefcase", "with the property papers"),
    ("cheque book", "of the cooperative bank"),
]
BRANDS = _words("Samsung Redmi Vivo Oppo Realme OnePlus iPhone Nokia Motorola Poco Infinix Tecno Lava Micromax")
LBRANDS = _words("Dell HP Lenovo Acer Asus Sony LG Panasonic Canon Nikon Apple Videocon Onida")
WBRANDS = _words("Titan Fastrack Casio Sonata HMT Timex Citizen Seiko Maxima")
MBRANDS = _items("Hero Splendor,Bajaj Pulsar,Honda Shine,TVS Apache,Royal Enfield,Yamaha FZ,Bajaj Platina,Hero Passion")
SBRANDS = _items("Honda Activa,TVS Jupiter,Suzuki Access,TVS Scooty,Hero Pleasure,Yamaha Fascino,Ather")
CBRANDS = _items(
    "Maruti Swift,Maruti Alto,Hyundai i20,Tata Nexon,Mahindra Bolero,Toyota Innova,Maruti Ertiga,Kia Seltos"
)
COLOURS = _words("red blue black white green yellow grey brown maroon silver golden orange pink purple cream navy")
GARMENTS = _items(
    "shirt,T-shirt,kurta,jacket,sweater,hoodie,saree,salwar suit,track suit,checked shirt,vest,uniform,shawl,"
    "raincoat,lungi,dhoti,kurti,burqa,blazer"
)
BUILDS = _items("thin,stout,medium,well-built,lean,heavy,short and stocky,tall and thin,fat,muscular")
COMPLEXIONS = _items("fair,wheatish,dark,dusky,brown")
HAIR = _items(
    "short hair,long hair tied in a ponytail,a clean-shaven head,curly hair,a beard,a thin moustache,"
    "a thick moustache,grey hair,dyed hair,a French beard,hair combed back,a cap on his head,a helmet on"
)
MARKS = _items(
    "a scar on his left cheek,a tattoo on his right hand,a mole near his nose,a limp in his walk,"
    "a gold tooth,a bandage on his wrist,spectacles,a red thread tied on his wrist,an earring in one ear,"
    "a burn mark on his neck,six fingers on one hand,a stammer"
)
RELATIONS = _items(
    "brother,sister,wife,husband,son,daughter,neighbour,cousin,father,mother,friend,colleague,landlord,tenant,"
    "uncle,aunt,nephew,niece,brother-in-law,sister-in-law,father-in-law,mother-in-law,grandson,employer,driver"
)
JOBS = _items(
    "shopkeeper,teacher,driver,labourer,clerk,farmer,nurse,software engineer,student,housewife,tailor,vendor,"
    "accountant,electrician,plumber,carpenter,mason,security guard,cook,peon,auto-rickshaw driver,contractor,"
    "retired government servant,bank employee,pharmacist,mechanic,beautician,dairy owner,priest,lawyer,barber,"
    "goldsmith,painter,weaver,fisherman,delivery executive,salesman,receptionist,anganwadi worker,LIC agent"
)
WORKPLACES = _items(
    "a private company,the municipal corporation,a garment factory,a hotel,a school,a hospital,a call centre,"
    "the railway workshop,a construction site,a petrol pump,a jewellery shop,a grocery store,a bakery,"
    "the district court,a cold storage,a textile mill,the sugar factory,a godown,a transport company,a bank"
)
SHOPS = _items(
    "the medical store,the jewellery shop,the kirana store,the petrol pump,the bank branch,the mobile shop,"
    "the hardware shop,the hotel,the garment showroom,the sweet shop,the school,the hospital,the dhaba,"
    "the cyber cafe,the photocopy shop,the tyre shop,the paan shop,the bakery,the chemist,the furniture shop"
)
LANGS = _items("Hindi,Marathi,Tamil,Telugu,Kannada,Bengali,Gujarati,Malayalam,Punjabi,Odia,English,Urdu,Assamese")
WEAPONS = _items(
    "stick,iron rod,knife,brick,belt,bottle,cricket bat,stone,chain,sharp object,hockey stick,axe,sickle,"
    "country-made pistol,lathi,screwdriver,blade,pipe,wooden plank"
)
VEHICLES = _items(
    "motorcycle,scooter,auto-rickshaw,white car,tempo,tractor,e-rickshaw,bicycle,truck,bus,jeep,black SUV,"
    "pick-up van,mini truck,cab,school van,dumper"
)
PARTS = _items(
    "head,left arm,right arm,back,face,knee,leg,shoulder,hand,forehead,chest,stomach,neck,left eye,lip,ear,"
    "fingers,ankle,ribs,elbow,wrist,nose"
)
INJURIES = _items(
    "a bleeding wound,swelling,a deep cut,bruises,a fracture,scratches,a lacerated wound,internal injuries,"
    "a sprain,burns,a cut that needed {k} stitches,a head injury"
)
ACTIVITIES = _items(
    "returning from the market,waiting for the bus,opening my shop,talking on the phone,dropping my son at school,"
    "withdrawing cash,walking my dog,buying vegetables,coming back from the temple,parking my scooter,sleeping,"
    "cooking dinner,locking the shutter,counting the cash,filling water,going to the office,"
    "standing in the queue,collecting the rent,repairing the fence,unloading goods,watering the plants,"
    "taking my evening walk,feeding the cattle,drying clothes on the terrace,waiting for my daughter,"
    "attending a wedding,checking the meter,taking tea,fixing the puncture,reading the newspaper"
)
REASONS = _items(
    "an old property dispute,a quarrel over parking,money he owed me,a dispute about the boundary wall,"
    "jealousy,the loan I had taken,a complaint I made earlier,an argument between the children,"
    "the rent that was due,the water connection,the dowry demand,loud music at night,a land deal,"
    "a road accident last year,political rivalry,an unpaid bill,the election,a family matter,"
    "a cricket match,the drainage line,a love affair,the share in ancestral land,a business partnership,"
    "the sale of a plot,a cheque that bounced,garbage thrown in front of our house,a stray dog"
)
MINUTES = (0, 0, 5, 10, 10, 15, 15, 20, 25, 30, 30, 30, 35, 40, 45, 45, 50, 55, *range(60))  # people round
WEEKDAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
MONTHS = _words("January February March April May June July August September October November December")
THINGS = _items(
    "car,shop,door,window,scooter,gate,phone,signboard,pipeline,fence,kiosk,cart,meter,shutter,CCTV camera,"
    "water tank,tube light,flower pots,windscreen"
)
NUMWORDS = _words("two three four five six seven eight nine ten eleven twelve fifteen twenty")
RANKS = _items("Sub-Inspector,Assistant Sub-Inspector,Inspector,Head Constable,Station House Officer")
STATUSES = ("draft", "pending_validation", "validated", "finalized", "finalized", "finalized")
KINDS = (
    "Written",
    "Oral",
    "Written",
    "Electronic",
    "Written complaint received by post",
    "Telephonic, followed by a written complaint",
)
DELAYS = (
    "No delay",
    "No delay",
    "Nil",
    "The complainant was in hospital",
    "The complainant was searching for the property",
    "The complainant first consulted the family elders",
    "The complainant was out of station",
    "The complainant was afraid of the accused",
)
OFFENCES = [
    ("BNS 303(2)", "Theft", "dishonestly taking movable property out of the possession of the complainant"),
    ("BNS 304", "Snatching", "suddenly and forcibly seizing movable property from the person of the complainant"),
    ("BNS 309(4)", "Robbery", "theft accompanied by the use or threat of force"),
    ("BNS 318(4)", "Cheating", "deceiving the complainant and inducing delivery of money"),
    ("BNS 115(2)", "Voluntarily causing hurt", "causing bodily pain to the complainant"),
    ("BNS 118(1)", "Hurt by dangerous weapons", "causing hurt by means of an instrument for cutting or beating"),
    ("BNS 351(2)", "Criminal intimidation", "threatening the complainant with injury to person and reputation"),
    ("BNS 352", "Intentional insult", "insulting the complainant with intent to provoke breach of peace"),
    ("BNS 85", "Cruelty by husband or relatives", "subjecting the woman to cruelty"),
    ("BNS 324(4)", "Mischief", "causing wrongful loss by damaging property"),
    ("BNS 329(4)", "House trespass", "entering into the dwelling house of the complainant"),
    ("BNS 331(4)", "House-breaking by night", "breaking into the house after sunset and before sunrise"),
    ("BNS 316(2)", "Criminal breach of trust", "dishonest misappropriation of entrusted property"),
    ("BNS 281", "Rash driving", "driving a vehicle on a public way in a rash and negligent manner"),
    ("BNS 106(1)", "Death by negligence", "causing death by a rash or negligent act"),
    ("BNS 126(2)", "Wrongful restraint", "voluntarily obstructing the complainant from proceeding"),
    ("BNS 308(2)", "Extortion", "putting the complainant in fear of injury to obtain property"),
    ("BNS 336(3)", "Forgery", "making a false document for the purpose of cheating"),
    ("IT Act 66C", "Identity theft", "fraudulently making use of the electronic signature or password of another"),
    ("IT Act 66D", "Cheating by personation", "cheating by personation using a computer resource"),
    ("BNS 74", "Assault on a woman", "assault or use of criminal force with intent to outrage her modesty"),
    ("BNS 78", "Stalking", "following a woman and contacting her despite clear disinterest"),
    ("BNS 3(5)", "Common intention", "acts done by several persons in furtherance of common intention"),
]

# The synonym pass: each occurrence of a key (whole words) is replaced by one of its alternatives, drawn afresh.
SYNONYMS = {
    "the accused": "the accused,the accused person,the said person,this man,the culprit,the offender,the suspect",
    "immediately": "immediately,at once,right away,without delay,quickly,promptly,straight away",
    "suddenly": "suddenly,all of a sudden,without warning,abruptly,out of nowhere",
    "threatened": "threatened,warned,intimidated,menaced",
    "abused": "abused,cursed,used foul language against,hurled abuses at",
    "ran away": "ran away,fled,escaped,sped away,disappeared,made off",
    "fled": "fled,ran away,escaped,sped off,vanished,took off",
    "took away": "took away,made off with,carried away,decamped with,stole,ran off with",
    "told": "told,informed,said to,explained to",
    "saw": "saw,noticed,spotted,observed,caught sight of",
    "later": "later,afterwards,subsequently,some time later,thereafter",
    "about": "about,around,approximately,nearly,roughly",
    "very": "very,extremely,quite,really,badly",
    "money": "money,cash,the amount",
    "house": "house,home,residence,place",
    "police station": "police station,police station,thana,PS",
    "shouted": "shouted,screamed,cried out,raised an alarm,yelled",
    "afraid": "afraid,scared,frightened,terrified,worried",
    "searched": "searched,looked everywhere,hunted,enquired around",
    "found": "found,discovered,noticed,saw",
    "beat": "beat,thrashed,assaulted,hit",
    "request": "request,pray,humbly request,earnestly request,urge",
    "strict": "strict,stringent,appropriate,necessary,severe",
    "nearby": "nearby,neighbouring,surrounding,adjoining",
    "people": "people,persons,passers-by,onlookers,local residents",
    "phone": "phone,mobile,cell phone,handset",
    "motorcycle": "motorcycle,bike,two-wheeler,motorbike",
    "quarrel": "quarrel,fight,argument,altercation,scuffle",
    "injured": "injured,hurt,wounded",
    "came": "came,arrived,turned up,appeared",
}
_SYN = {k: _items(v) for k, v in SYNONYMS.items()}
_PRESENT_RE = re.compile(r"\bI (further )?(feel|estimate|state|request|pray|fear|live|work)\b")
_PRONOUN_RE = re.compile(r"\b(I am|I have|I|my|me|My|us|we|We|our|Our)\b")
_CAP_RE = re.compile(r"(^|[.!?]\s+)([a-z])")
_SYN_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _SYN), key=len, reverse=True)) + r")\b")

OPENERS = _items(
    "Thereafter,After some time,On the same day,Later,In the meantime,The next day,As far as I remember,"
    "To the best of my knowledge,Soon after that,While this was going on,At that time,Before I could react,"
    "Unfortunately,Moreover,I further state that,It is pertinent to mention that,Meanwhile,Within minutes,"
    "After about {n} minutes,Around {hh}:{mm},At about {hh}:{mm} hours,A little later,That night,"
    "The following morning,Two days later,Finally,Again,Once more,In fact,Surprisingly,Shockingly,"
    "Even then,Even after this,On hearing this,Seeing this,When I objected,When I protested,Without any provocation"
)
CONNECTORS = (
    ". ",
    ". ",
    ". ",
    ". ",
    "; ",
    ", and then ",
    ", after which ",
    ", but ",
    ", so ",
    " because ",
    " while ",
    ", and ",
    " although ",
    " until ",
    " before ",
    " when ",
    ", whereupon ",
    " as ",
    ", even though ",
    " and soon ",
)
SUBJECTS = _items(
    "the accused {an},{an},two unknown persons,my {rel},a man in a {colour} {garment},the shopkeeper {wn2},"
    "the driver of the {vehicle},some boys from {loc2},a woman wearing a {colour} {garment},the caller,"
    "my neighbour {wn},the security guard,one of the two men,the person who called himself {wn2},three young men,"
    "the auto driver,the delivery boy,my {rel} {wn},the tenant on the {floor} floor,a stranger,the agent from {city2},"
    "the landlord,{xn},{xn} of {loc2},one {xn} aged about {age2} years,{xn} alias {alias},a person named {xn},"
    "{xmn} son of {yn},the pillion rider,a tall man with {hair},a man of about {age2},{num} men,the gang,"
    "the man who sells {goods} near the {landmark},the brother of {an},the contractor {xn},the bank employee {yn}"
)
VERBS = _items(
    "snatched {item} from,took away {item} from,threatened,abused,hit,followed,called,pushed,stopped,warned,"
    "asked for Rs. {amt} from,demanded money from,grabbed the collar of,chased,saw,noticed,informed,met,"
    "paid Rs. {amt} to,borrowed {item} from,damaged the {thing} of,shouted at,slapped,cheated,misbehaved with,"
    "blocked the way of,sent messages to,made threatening calls to,waited for,recognised,tried to bribe,"
    "complained about,caught,dragged,insulted,lied to,accompanied,looked for,spoke to,quarrelled with,"
    "transferred Rs. {amt} to,called from mobile number {phone2} to,kicked,robbed,overpowered,misled,"
    "blackmailed,stalked,harassed,locked up,tied the hands of,photographed,filmed,cornered,surrounded,visited,"
    "telephoned,ignored,took Rs. {amt} in cash from,promised a government job to,sold a fake gold biscuit to,"
    "handed a parcel to,showed a knife to,snatched the bag of,opened the lock of the room of,pulled the dupatta of,"
    "scolded,forced,defamed,attacked,teased,confronted,returned half the money to,demanded a bribe from,"
    "took out a {weapon} and hit,picked up a {weapon} and beat,threw a stone at,spat on,pointed a {weapon} at,"
    "poured water on,sent a link to,asked for the OTP from,offered a loan to,collected documents from,"
    "took the signature of,pressed the throat of,bolted the door on,poured kerosene near,tailed,hid the keys of"
)
OBJECTS = _items(
    "me,me,my {rel},{wn},us,the shopkeeper,my {rel} {wn},the watchman,the children,my family,the customers,"
    "the conductor,everyone present there,the old man,her,him,them,{yn},{yn} and his friend,{yn} from {city2},"
    "a boy aged {age2},my {num} year old son,the milkman,the woman next door,my employee {yn},the cashier"
)
ADVERBIALS = _items(
    "near the {landmark},in {loc},at about {hh}:{mm},on {date2},{place},with a {weapon},on his {vehicle},"
    "in front of {wn2},while I was {activity},because of {reason},for about {n} minutes,twice,again and again,"
    "from behind,without any reason,in a drunken state,near my house,on the main road of {loc2},"
    "in the presence of {num} witnesses,after the argument,outside {shop},when nobody was around,"
    "at the crossing near the {landmark2},in the narrow lane,on the staircase,in the name of {wn},"
    "on {num} occasions,last {weekday},on the night of {date2},through WhatsApp,over the phone from {phone2},"
    "in the {floor} floor corridor,inside the {vehicle},by the side of the {landmark},with {num} other persons,"
    "as soon as the power went off,in the middle of the night,soon after I got off the {vehicle},"
    "in a loud voice,in a very rude manner,with the help of his friends,at knife point,in a threatening tone,"
    "just {n} days before {festival},on the pretext of {reason},opposite house number {hn},"
    "about {n} metres from the {landmark2},behind the {landmark},on the way to {city2},during {festival},"
    "in the rain,in the dark,near gate number {k},on the {floor} floor,at the corner of {loc2},"
    "between {hh}:00 and {hh2}:00,after {n} rounds of the colony,in full public view,under a street light"
)
FESTIVALS = _items("Diwali,Holi,Eid,Dussehra,Ganesh Chaturthi,Pongal,Onam,Christmas,Navratri,Raksha Bandhan,Lohri")
GOODS = _items("vegetables,fruits,tea,pani puri,bangles,toys,balloons,ice cream,peanuts,coconut water,old clothes")
TIMES_OF_DAY = _items(
    "early in the morning,around noon,in the afternoon,in the evening,late at night,around midnight,after dinner,"
    "before sunrise,during the lunch break,while returning from work,at dusk,just after the evening prayer,"
    "at the time of the school rush,in the small hours"
)
QUOTES = _items(
    "If you go to the police, you will not be alive tomorrow,Give the money or face the consequences,"
    "We know where your children study,This land belongs to us and nobody can stop us,"
    "Keep quiet or I will finish your whole family,Your son will not come home one day,"
    "I have contacts with big people and the police cannot do anything,Withdraw the case within {n} days,"
    "Bring {amt} rupees by {weekday} or we will take your scooter,Nobody will believe you,"
    "Sign these papers or leave the house,We will burn your shop,Don't show your face in this area again,"
    "Your account will be blocked if you do not share the OTP,You have won a lottery of {amt} rupees,"
    "Pay the processing fee and the loan will be sanctioned today,Sir I am calling from the bank,"
    "Your parcel is held by customs and you must pay the duty,You will regret this,Go back to your village"
)
FEELINGS = _items(
    "I was shocked,I was terrified,my whole family is in fear,I could not sleep that night,"
    "my children are afraid to go to school,my mother fell ill after this,I am under great mental stress,"
    "we have lost our savings,I am unable to go to work,I feel unsafe in my own house,"
    "the neighbours now avoid us,my daughter has stopped going to college,I have lost my peace of mind"
)

# Sentence shapes other than the free clauses of SUBJECTS/VERBS/OBJECTS: a group is drawn, then one of its forms.
CLAUSE_SHARE = 0.42
ZIPF = 2.0  # skew of _z(): u**ZIPF of a uniform u picks the index
DESCRIPTION_SHARE = 0.08
SHAPES = (
    (
        '{who} said, "{q}."',
        'He told me in {lang}, "{q}."',
        'The caller kept saying, "{q}."',
        'Before leaving, {an} shouted, "{q}!"',
        '{who} warned me: "{q}."',
    ),
    (
        "The stolen property includes {item} and {item2}, together worth about Rs. {amt}.",
        "I had bought {item} on {date2} for Rs. {amt} and I have the bill.",
        "Among other things, {item} was missing from the {thing2}.",
        "{Item} and {item2} are missing, and I estimate the loss at Rs. {amt}.",
        "The IMEI number of the phone is {imei}, and the SIM card is in the name of my {rel}.",
        "The vehicle's chassis number ends with {chassis} and the engine number with {engine}.",
    ),
    (
        "Because of the attack I suffered {inj} on my {part} and {inj2} on my {part2}.",
        "I was taken to {hosp} by my {rel}, where the doctor gave me {k} stitches on the {part2}.",
        "My {rel} got {inj} on the {part2} and is still admitted in {hosp}.",
        "The injury on my {part} is still {pain}, and the X-ray shows {inj}.",
    ),
    (
        "I received a call from {phone2}, and the caller claimed to be from {org}.",
        "An amount of Rs. {amt} was debited from my account in {k} transactions, UPI reference {utr}.",
        "The money went to account number {acct} of {bank}, which is in the name of {xn}.",
        "I got a message with a link on {date2}, and after I clicked it Rs. {amt} was deducted.",
        "The profile used my photograph and the name {cn}, and asked my friends for Rs. {amt} each.",
        "I called the cyber helpline 1930 at {clock} and got acknowledgement number {ack}.",
    ),
    (
        "{feel}, and {feel2}.",
        "Since then {feel2}.",
        "{feel}; this is the {ord} time such a thing has happened to us.",
        "{feel}, because {an} has threatened us {num} times before.",
    ),
    (
        "My {rel} {wn}, who lives at {addr2}, saw the whole incident.",
        "{wn2}, who runs {shop} in {loc2}, can confirm what I have said.",
        "The CCTV camera of {shop} faces the spot and may have recorded {an}.",
        "The watchman {xmn} told me that he had seen a {colour} {vehicle} standing there since {clock}.",
        "Some of the people who gathered there, including {xn} and {yn}, tried to stop them.",
        "I informed the beat constable {yn} and the control room at 112 at {clock}.",
    ),
    (
        "We have been living in {loc} for the last {n} years and have never had any dispute with anyone.",
        "{an} has been troubling my family for about {k} months because of {reason}.",
        "Earlier, on {date2}, a similar complaint was made at {ps} police station, but no action was taken.",
        "I had lent Rs. {amt} to {an} on {date2} and he had promised to return it within {k} months.",
        "The dispute started {k} years ago over {reason}.",
        "I am a {job} and work at {work} in {loc2}.",
    ),
    (
        "On {date2} at {clock}, I was {activity} {place} in {loc2}.",
        "It was {tod} on {weekday}, {date2}, and I was {activity}.",
        "At around {clock} I was {place} in {loc2} with my {rel}.",
        "The incident took place {tod}, {place}, about {k} km from my house.",
    ),
    (
        "I searched the nearby lanes and asked the shopkeepers, but found no trace of {item}.",
        "When I returned I found that the lock of the {door} was broken and {item} was missing.",
        "I shouted for help and the people nearby came running, but the accused fled towards {loc2}.",
        "The vehicle bearing registration number {reg} was parked {place} and was found missing later.",
        "A {vehicle} coming from {loc2} at high speed hit my {rel}'s scooter from behind.",
        "The driver did not stop, but a passer-by noted the number as {reg}.",
    ),
)


class _Fill(dict):
    """The slots of one sentence: the record's cast, plus slots drawn on first use (str.format_map)."""

    def __init__(self, cast: dict[str, object], makers: dict[str, Callable[[_Fill], object]]) -> None:
        super().__init__(cast)
        self.makers = makers

    def __missing__(self, key: str) -> object:
        value = self[key] = self.makers[key](self)
        return value


def _upper(m: re.Match[str]) -> str:
    return m.group(1) + m.group(2).upper()


def _ordinal(d: int) -> str:
    suf = "th" if 10 <= d % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
    return f"{d}{suf}"


class Prose:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.base = datetime(2023, 1, 1)  # noqa: DTZ001 - synthetic naive timestamps, stored as DATETIME
        r = self.rng
        # per-generator phrase variants: a few of each, so that a phrase recurs within a few records, like a
        # police station's own habits of writing
        self.stations = [f"{r.choice(LOC_STEMS)} {r.choice(LOC_SUFFIXES)}" for _ in range(400)]
        self.pool: dict[str, list[str]] = {}
        self.makers = self._makers()

    # --- particulars -------------------------------------------------------------------------------------------
    def name(self, female: bool | None = None) -> str:
        r = self.rng
        first = r.choice(FIRST if female is None else FIRST_F if female else FIRST_M)
        if r.random() < 0.15:
            return f"{first} {r.choice(FIRST_M)} {r.choice(LAST)}"
        return f"{first} {r.choice(LAST)}"

    def locality(self) -> str:
        r = self.rng
        x = r.random()
        if x < 0.12:
            return f"Sector {r.randint(1, 120)}"
        if x < 0.2:
            return f"{r.choice(LOC_STEMS)} {r.choice(LOC_SUFFIXES)} Phase {r.choice('I II III IV'.split())}"
        if x < 0.27:
            return f"Ward No. {r.randint(1, 80)}, {r.choice(LOC_STEMS)} {r.choice(LOC_SUFFIXES)}"
        return f"{r.choice(LOC_STEMS)} {r.choice(LOC_SUFFIXES)}"

    def address(self, city: str) -> str:
        r = self.rng
        x = r.random()
        if x < 0.3:
            house = f"House No. {r.randint(1, 999)}"
        elif x < 0.5:
            flat = f"{r.choice('ABCDEFG')}-{r.randint(1, 15)}{r.randint(1, 12):02d}"
            house = f"Flat {flat}, {r.choice(LOC_STEMS)} Apartments"
        elif x < 0.7:
            house = f"{r.randint(1, 40)}-{r.randint(1, 300)}/{r.choice('ABCD')}"
        elif x < 0.85:
            house = f"Plot No. {r.randint(1, 600)}, {_ordinal(r.randint(1, 14))} Cross"
        else:
            colony = r.choice(("Railway", "Police", "PWD", "Mill"))
            house = f"Quarter No. {r.choice('ABCDH')}/{r.randint(1, 250)}, {colony} Colony"
        pin = f" - {r.randint(110001, 855999)}" if r.random() < 0.5 else ""
        return f"{house}, {self.locality()}, {city}{pin}"

    def date(self, when: datetime) -> str:
        r = self.rng
        x = r.random()
        if x < 0.4:
            return when.strftime("%d/%m/%Y")
        if x < 0.55:
            return when.strftime("%d-%m-%Y")
        if x < 0.8:
            return f"{_ordinal(when.day)} {MONTHS[when.month - 1]} {when.year}"
        if x < 0.9:
            return f"{MONTHS[when.month - 1]} {when.day}, {when.year}"
        return f"{when.day}.{when.month}.{when.year}"

    def clock(self) -> str:
        r = self.rng
        h, m = r.randint(0, 23), r.choice(MINUTES)
        x = r.random()
        if x < 0.4:
            return f"{h:02d}:{m:02d} hours"
        if x < 0.7:
            return f"{(h - 1) % 12 + 1}:{m:02d} {'AM' if h < 12 else 'PM'}"
        if x < 0.85:
            return f"{(h - 1) % 12 + 1}.{m:02d} {'in the morning' if h < 12 else 'in the evening'}"
        return f"half past {(h - 1) % 12 + 1}"

    def amount(self) -> str:
        r = self.rng
        x = r.random()
        v = r.randint(1, 900) * r.choice((100, 500, 1000, 250)) + (r.randint(1, 99) if x < 0.2 else 0)
        if x < 0.5:
            return f"{v:,}"
        if x < 0.75:
            s = str(v)
            if len(s) > 3:  # Indian grouping: 1,23,456
                head, tail = s[:-3], s[-3:]
                groups = []
                while len(head) > 2:
                    groups.insert(0, head[-2:])
                    head = head[:-2]
                s = ",".join(([head] if head else []) + groups + [tail])
            return s
        return str(v)

    def reg(self) -> str:
        r = self.rng
        st = r.choice("MH DL KA TS GJ TN WB RJ UP MP AP BR PB JK JH CG AS OD KL UK GA HP HR".split())
        return f"{st}{r.choice(('-', ' ', ''))}{r.randint(1, 60):02d}{r.choice(('-', ' ', ''))}{r.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{r.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{r.choice(('-', ' ', ''))}{r.randint(1, 9999):04d}"  # noqa: E501

    def phone(self) -> str:
        r = self.rng
        n = f"{r.randint(6, 9)}{r.randint(0, 999999999):09d}"
        x = r.random()
        if x < 0.2:
            return f"+91 {n[:5]} {n[5:]}"
        if x < 0.35:
            return f"{n[:5]}-{n[5:]}"
        return n

    def person_description(self) -> str:
        r = self.rng
        bits = [f"aged about {r.randint(18, 55)} years"]
        if r.random() < 0.7:
            bits.append(f"{r.choice(BUILDS)} build")
        if r.random() < 0.6:
            bits.append(f"{r.choice(COMPLEXIONS)} complexion")
        if r.random() < 0.7:
            bits.append(f"height about {r.randint(4, 6)} feet {r.randint(0, 11)} inches")
        if r.random() < 0.8:
            bits.append(f"wearing a {r.choice(COLOURS)} {r.choice(GARMENTS)}")
            if r.random() < 0.5:
                bits.append(f"{r.choice(COLOURS)} {r.choice(('trousers', 'jeans', 'pyjama', 'shorts', 'cargo pants'))}")
        if r.random() < 0.5:
            bits.append(f"with {r.choice(HAIR)}")
        if r.random() < 0.4:
            bits.append(f"having {r.choice(MARKS)}")
        r.shuffle(bits)
        who = r.choice(("One of them was", "The man was", "The first person was", "The other one was", "He was"))
        speech = r.choice(("", "", f" and spoke {r.choice(LANGS)}", " and spoke with a local accent"))
        return f"{who} {', '.join(bits[:-1])} and {bits[-1]}{speech}." if len(bits) > 1 else f"{who} {bits[0]}."

    def item(self) -> str:
        r = self.rng
        kind, extra = r.choice(ITEM_KINDS)
        fill = {
            "g": r.randint(3, 60),
            "g0": r.randint(50, 400),
            "brand": r.choice(BRANDS),
            "lbrand": r.choice(LBRANDS),
            "wbrand": r.choice(WBRANDS),
            "mbrand": r.choice(MBRANDS),
            "sbrand": r.choice(SBRANDS),
            "cbrand": r.choice(CBRANDS),
            "colour": r.choice(COLOURS),
            "amt2": self.amount(),
            "reg": self.reg(),
        }
        art = "an" if kind[0] in "aeiouAEIOU" else "a"
        text = f"{r.choice((art, art, 'my', 'our'))} {kind.format(**fill)}"
        if extra and r.random() < 0.8:
            text += " " + extra.format(**fill)
        return text

    # --- sentences ---------------------------------------------------------------------------------------------
    def _makers(self) -> dict[str, Callable[[_Fill], object]]:
        """How to draw each slot of a sentence template; a slot is drawn only when a template uses it."""
        r = self.rng
        c = r.choice
        return {
            "hh": lambda f: f"{r.randint(0, 23):02d}",
            "hh2": lambda f: f"{r.randint(0, 23):02d}",
            "mm": lambda f: f"{c(MINUTES):02d}",
            "landmark": lambda f: c(LANDMARKS),
            "landmark2": lambda f: c(LANDMARKS),
            "weapon": lambda f: c(WEAPONS),
            "vehicle": lambda f: c(VEHICLES),
            "activity": lambda f: c(ACTIVITIES),
            "reason": lambda f: c(REASONS),
            "thing": lambda f: c(THINGS),
            "phone2": lambda f: c(self.pool["phones"]),
            "weekday": lambda f: c(WEEKDAYS),
            "floor": lambda f: c(("ground", "first", "second", "third", "fourth", "top")),
            "hn": lambda f: f"{r.randint(1, 400)}/{r.randint(1, 40)}",
            "n": lambda f: r.randint(2, 60),
            "k": lambda f: r.randint(2, 12),
            "num": lambda f: c(NUMWORDS),
            "xn": lambda f: c(self.pool["names"]),
            "yn": lambda f: c(self.pool["names"]),
            "xmn": lambda f: c(self.pool["men"]),
            "age2": lambda f: r.randint(12, 80),
            "alias": lambda f: c(FIRST_M),
            "garment": lambda f: c(GARMENTS),
            "hair": lambda f: c(HAIR),
            "colour": lambda f: c(COLOURS),
            "festival": lambda f: c(FESTIVALS),
            "goods": lambda f: c(GOODS),
            "date2": lambda f: c(self.pool["dates"]),
            "amt": lambda f: c(self.pool["amounts"]),
            "item": lambda f: c(self.pool["items"]),
            "item2": lambda f: c(self.pool["items"]),
            "Item": lambda f: str(f["item"])[:1].upper() + str(f["item"])[1:],
            "loc2": lambda f: c(self.pool["localities"]),
            "city2": lambda f: c(self.pool["cities"]),
            "place": lambda f: c(PLACES),
            "clock": lambda f: self.clock(),
            "tod": lambda f: c(TIMES_OF_DAY),
            "who": lambda f: c(("He", "The accused", "One of them", "She", f["an"], f["xn"])),
            "q": lambda f: c(QUOTES).format_map(f),
            "thing2": lambda f: c(("almirah", "drawer", "suitcase", "cupboard", "bag", "box", "locker", "counter")),
            "chassis": lambda f: f"{r.randint(10000, 99999)}",
            "engine": lambda f: f"{c('ABCDEFGHJKLM')}{r.randint(100000, 999999)}",
            "inj": lambda f: c(INJURIES).format_map(f),
            "inj2": lambda f: c(INJURIES).format_map(f),
            "part2": lambda f: c(PARTS),
            "hosp": lambda f: c(
                (
                    f"the District Hospital, {f['city']}",
                    "the Primary Health Centre",
                    f"{c(LOC_STEMS)} Hospital",
                    f"the Civil Hospital at {f['city2']}",
                    "a private clinic nearby",
                    f"Dr. {f['xn']}'s nursing home",
                )
            ),
            "pain": lambda f: c(("painful", "swollen", "bleeding at times", "not healed", "bandaged")),
            "org": lambda f: c(
                ("the bank", "the electricity board", "a courier company", "the income tax office", "the KYC cell")
            ),
            "utr": lambda f: f"{r.randint(100000000000, 999999999999)}",
            "acct": lambda f: f"XXXXXX{r.randint(1000, 9999)}",
            "bank": lambda f: c(("SBI", "HDFC Bank", "ICICI Bank", "Axis Bank", "Canara Bank", "Punjab National Bank")),
            "ack": lambda f: f"{r.randint(10000000000000, 99999999999999)}",
            "feel": lambda f: c(FEELINGS),
            "feel2": lambda f: c(FEELINGS),
            "ord": lambda f: c(("second", "third", "fourth")),
            "addr2": lambda f: self.address(str(f["city"])),
            "work": lambda f: c(WORKPLACES),
            "door": lambda f: c(("main door", "back door", "shop shutter", "godown", "store room", "almirah")),
        }

    def _cast_pool(self, city: str) -> dict[str, list[str]]:
        """The few people, places, dates and amounts one complaint keeps coming back to."""
        r = self.rng
        return {
            "names": [self.name() for _ in range(r.randint(2, 5))],
            "men": [self.name(False) for _ in range(2)],
            "phones": [self.phone() for _ in range(r.randint(1, 2))],
            "dates": [self.date(self._when()) for _ in range(r.randint(2, 3))],
            "amounts": [self.amount() for _ in range(r.randint(2, 3))],
            "items": [self.item() for _ in range(r.randint(2, 3))],
            "localities": [self.locality() for _ in range(r.randint(2, 3))],
            "cities": [city, r.choice(CITIES), r.choice(CITIES)],
        }

    def _z(self, seq: Sequence[str]) -> str:
        """A Zipf-like choice: the head of a list is drawn much more often than its tail, as in real text."""
        return seq[int(len(seq) * self.rng.random() ** ZIPF)]

    def _clauses(self, f: _Fill) -> str:
        r = self.rng
        c = r.choice
        z = self._z
        parts = []
        if r.random() < 0.45:
            opener = z(OPENERS)
            parts.append(opener + (" " if opener.endswith(" that") else ", "))
        for clause in range(c((1, 1, 2, 2, 3))):
            if clause:
                parts.append(z(CONNECTORS))
            parts.append(f"{z(SUBJECTS)} {z(VERBS)} {z(OBJECTS)}")
            for _ in range(c((0, 1, 1, 2))):
                parts.append(" " + z(ADVERBIALS))
        return _CAP_RE.sub(_upper, "".join(parts).format_map(f))

    def _sentence(self, cast: dict[str, object]) -> str:
        """One sentence of the complaint, of a randomly chosen shape."""
        r = self.rng
        f = _Fill(cast, self.makers)
        x = r.random()
        if x < CLAUSE_SHARE:
            s = self._clauses(f)
        elif x < CLAUSE_SHARE + DESCRIPTION_SHARE:
            s = self.person_description()
        else:
            s = r.choice(r.choice(SHAPES)).format_map(f)
        s = s[:1].upper() + s[1:]
        return s if s.endswith((".", '."', '!"', "?")) else s + "."

    def _synonyms(self, text: str) -> str:
        c = self.rng.choice
        return _SYN_RE.sub(lambda m: c(_SYN[m.group(1)]), text)

    def _when(self, days: int = 900) -> datetime:
        return self.base + timedelta(seconds=self.rng.randrange(days * 86400))

    def _paragraphs(self, sents: list[str]) -> str:
        r = self.rng
        paras, i = [], 0
        while i < len(sents):
            step = r.randint(2, 5)
            paras.append(" ".join(sents[i : i + step]))
            i += step
        return "\n\n".join(paras)

    def _third_person(self, text: str, female: bool) -> str:
        he, his, him = ("she", "her", "her") if female else ("he", "his", "him")
        rep = {"I": he, "my": his, "me": him, "My": his.capitalize(), "us": "them"}
        rep["we"], rep["We"], rep["our"], rep["Our"] = "they", "They", "their", "Their"
        rep["I am"], rep["I have"] = f"{he} is", f"{he} has"
        parts = text.split('"')  # quoted speech stays as spoken
        for i in range(0, len(parts), 2):
            parts[i] = _PRESENT_RE.sub(lambda m: f"{he} {m.group(1) or ''}{m.group(2)}s", parts[i])
            parts[i] = _PRONOUN_RE.sub(lambda m: rep[m.group(1)], parts[i])
        text = '"'.join(parts)
        return _CAP_RE.sub(_upper, text)

    # --- records -------------------------------------------------------------------------------------------------
    def record(self, fir_id: int) -> dict[str, object]:
        r = self.rng
        c = r.choice
        female = r.random() < 0.45
        city = c(CITIES)
        state = c(STATES)
        created = self._when()
        occurred = created - timedelta(minutes=r.randint(30, 96 * 60))
        cn = self.name(female)
        self.pool = self._cast_pool(city)
        cast: dict[str, object] = {
            "cn": cn,
            "an": self.name(),
            "wn": self.name(),
            "wn2": self.name(),
            "age": r.randint(19, 78),
            "addr": self.address(city),
            "loc": self.pool["localities"][0],
            "city": city,
            "state": state,
            "rel": c(RELATIONS),
            "part": c(PARTS),
            "reg": self.reg(),
            "shop": c(SHOPS),
            "lang": c(LANGS),
            "job": c(JOBS),
            "imei": "".join(str(r.randrange(10)) for _ in range(15)),
            "ps": c(self.stations),
            "item2": self.pool["items"][0],
        }
        intro = c(
            (
                "I, {cn}, aged about {age} years, resident of {addr}, wish to report the following incident.",
                "I am {cn}, {age} years old, a {job} living at {addr}, and I am submitting this complaint.",
                "My name is {cn}. I am {age} and I live at {addr} with my family.",
                "I, {cn} {rel_of} {fn}, residing at {addr}, by profession a {job}, state as follows.",
                "Respected Sir/Madam, I, {cn}, resident of {addr}, would like to bring the following to your notice.",
                "This is to inform you that I, {cn} (age {age}), of {addr}, was the victim of an offence.",
            )
        ).format(rel_of=c(("D/o", "W/o")) if female else "S/o", fn=self.name(False), **cast)
        sents = [self._synonyms(self._sentence(cast)) for _ in range(r.randint(8, 20))]
        closing = c(
            (
                "I request that a case be registered and strict action be taken against the accused.",
                "Kindly register my complaint and recover {item2} at the earliest.",
                "I pray that the guilty be punished and that my family be given protection.",
                "Please take legal action, as I fear for the safety of my family.",
                "I have not complained about this to any other police station. Kindly do the needful.",
                "The above statement was read over to me in {lang} and is correctly recorded.",
            )
        ).format(**cast)
        complaint = self._paragraphs([self._synonyms(intro), *sents, self._synonyms(closing)])

        # the FIR: a short form, then a third-person account of the same incident
        offences = r.sample(OFFENCES, r.randint(1, 4))
        year = created.year
        fir_number = f"FIR/{year}/{state[:2].upper()}/{fir_id:08d}"
        who = c(("The complainant", f"Complainant {cn}", cn, "The informant", "She" if female else "He"))
        told = c(("stated that", "reported that", "alleged that", "informed that", "submitted that", "has said that"))
        # the officer retells part of the complaint in the third person and adds what he learnt himself
        retold = r.sample(sents, min(len(sents), r.randint(3, 8)))
        account = [self._synonyms(self._sentence(cast)) for _ in range(r.randint(3, 8))] + retold
        r.shuffle(account)
        account = [self._third_person(s, female) for s in account]
        account[0] = f"{who} {told} {account[0][:1].lower()}{account[0][1:]}"
        io, rank = self.name(), c(RANKS)
        action = c(
            (
                "Since the above information discloses a cognizable offence, a case is registered and {io}, {rank}, "
                "is directed to investigate.",
                "A case is registered under the above sections and the investigation is entrusted to {rank} {io}.",
                "Case registered. The spot was visited by {rank} {io} at {clock}, and the site plan was prepared.",
                "Registered and taken up for investigation. {io} ({rank}) will record the statements of witnesses.",
                "Offence made out under the sections above; {rank} {io}, beat {k}, to investigate and report.",
            )
        ).format(io=io, rank=rank, clock=self.clock(), k=r.randint(1, 30))
        copy = c(
            (
                "The FIR was read over to the complainant, who admitted it to be correct; a copy was given free of "
                "cost.",
                "A copy of the FIR was handed over to the complainant free of cost.",
                "Copy given to the complainant. Signature taken.",
                "The contents were explained in {lang}; thumb impression obtained and a copy provided.",
            )
        ).format(**cast)
        form = (
            f"FIRST INFORMATION REPORT\n"
            f"District: {city}  P.S.: {cast['ps']}  Year: {year}  FIR No.: {fir_number}  Date: {self.date(created)}\n"
            f"Acts and Sections: {', '.join(o[0] for o in offences)}\n"
            f"Occurrence: {self.date(occurred)}, {self.clock()}; information received: "
            f"{created.strftime('%d/%m/%Y %H:%M')}; GD entry no. {r.randint(1, 120)}\n"
            f"Type of information: {c(KINDS)}\n"
            f"Place of occurrence: {c(PLACES)}, {self.locality()}, {city}, {state}; about {r.randint(1, 25)}."
            f"{r.randint(0, 9)} km {c(('north', 'south', 'east', 'west', 'north-east', 'south-west'))} of the P.S.\n"
            f"Complainant: {cn}, aged {cast['age']}, {cast['job']}, {cast['addr']}, phone {self.phone()}\n"
            f"Accused: {cast['an'] if r.random() < 0.5 else 'Unknown, as described below'}\n"
            f"Delay in reporting: {c(DELAYS)}\n"
            f"Property involved: {cast['item2']}; value Rs. {self.amount()}\n"
            f"Contents:\n"
        )
        fir_content = (
            form
            + self._paragraphs(account)
            + f"\n\nAction taken: {action} {copy}\n"
            + f"Officer in charge: {self.name()}, {c(RANKS)}, No. {r.randint(1000, 99999)}\n"
        )
        violations = [
            {
                "section": o[0],
                "title": o[1],
                "description": c(
                    (
                        f"The facts disclose {o[2]}.",
                        f"The complaint alleges {o[2]}.",
                        f"Prima facie, {o[2]} by {cast['an']}.",
                        f"{o[1]}: {o[2]}.",
                    )
                ),
                "confidence": round(r.uniform(0.55, 0.99), 2),
                "evidence": c(sents),  # quoted from the complaint
            }
            for o in offences
        ]
        status = c(STATUSES)
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
