"""The words of the national categories a visit's reason maps to, whose
codes are sync.protocol's CRA_THEMES and ADMIN_DOMAINS: the themes of the
conseillers numériques' activity reports (CRA v2, La Coop de la médiation
numérique) and the ten administrative domains of Aidants Connect and France
Services, in the taxonomies' own French words. The hub prints them in its
exports (federation.taxonomies); the kiosk's settings screen shows them,
translated, where staff map each reason to its categories.
"""

from __future__ import annotations

from sync.i18n import N_
from sync.protocol import ADMIN_DOMAINS, CRA_THEMES

CRA_THEME_LABELS = {
    "diagnostic_numerique": N_("Diagnostic numérique"),
    "prendre_en_main_materiel": N_("Prendre en main du matériel"),
    "maintenance_materiel": N_("Maintenance de matériel"),
    "contenus_numeriques": N_("Gérer ses contenus numériques"),
    "navigation_internet": N_("Navigation sur internet"),
    "email": N_("E-mail"),
    "bureautique": N_("Bureautique"),
    "reseaux_sociaux": N_("Réseaux sociaux communication"),
    "sante": N_("Santé"),
    "banque_achats": N_("Banque et achats en ligne"),
    "entrepreneuriat": N_("Accompagner un professionnel"),
    "insertion_professionnelle": N_("Insertion professionnelle"),
    "securite_numerique": N_("Prévention en sécurité numérique"),
    "parentalite": N_("Parentalité"),
    "scolarite_numerique": N_("Scolarité et numérique"),
    "creer_numerique": N_("Créer avec le numérique"),
    "culture_numerique": N_("Culture numérique"),
    "intelligence_artificielle": N_("Intelligence artificielle (IA)"),
    "demarches_administratives": N_("Aide aux démarches administratives"),
}

DOMAIN_LABELS = {
    "papiers_citoyennete": N_("Papiers - Élections - Citoyenneté"),
    "famille_scolarite": N_("Famille - Scolarité"),
    "social_sante": N_("Social - Santé"),
    "travail_formation": N_("Travail - Formation"),
    "logement": N_("Logement"),
    "transports_mobilite": N_("Transports - Mobilité"),
    "argent_impots": N_("Argent - Impôts"),
    "justice": N_("Justice"),
    "etrangers_europe": N_("Étrangers - Europe"),
    "loisirs_culture": N_("Loisirs - Sports - Culture"),
}

assert set(CRA_THEME_LABELS) == set(CRA_THEMES) and set(DOMAIN_LABELS) == set(ADMIN_DOMAINS)
