"""System texts the engine sends, in every language it speaks.

A table, not code: each message id maps language -> text with `{placeholders}`.
A language missing from a row falls back to English.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LANGUAGE_NAMES", "ROLE_KEYS", "TEXTS", "text"]

# Endonyms, so each family recognises its own language in the menu.
LANGUAGE_NAMES: Mapping[str, str] = {
    "en": "English",
    "es": "Español",
    "vi": "Tiếng Việt",
    "zh": "中文",
    "ar": "العربية",
    "so": "Soomaali",
    "ht": "Kreyòl ayisyen",
    "pt": "Português",
    "ru": "Русский",
    "ko": "한국어",
    "fr": "Français",
    "tl": "Tagalog",
}

ROLE_KEYS: tuple[str, ...] = ("parent", "student", "staff", "community")

TEXTS: Mapping[str, Mapping[str, str]] = {
    "welcome": {
        "en": "Hi! This is {program}. Reply with a number for your language:",
        "es": "¡Hola! Le escribe {program}. Responda con un número para su idioma:",
        "vi": "Xin chào! Đây là {program}. Trả lời bằng một số để chọn ngôn ngữ:",
    },
    "language_menu": {
        "en": "Reply with a number for your language:",
        "es": "Responda con un número para su idioma:",
        "vi": "Trả lời bằng một số để chọn ngôn ngữ:",
    },
    "language_set": {
        "en": "OK, we will write to you in English.",
        "es": "De acuerdo, le escribiremos en español.",
        "vi": "Được, chúng tôi sẽ nhắn cho quý vị bằng tiếng Việt.",
    },
    "consent": {
        "en": (
            "{program} asks families about the future of our schools. Your answers help "
            "the district plan. Msg&data rates may apply. Take part? Reply YES or NO. "
            "Text STOP anytime to stop."
        ),
        "es": (
            "{program} pregunta a las familias sobre el futuro de nuestras escuelas. Sus "
            "respuestas ayudan a planificar. Pueden aplicar tarifas de mensajes. ¿Participa? "
            "Responda SÍ o NO. Envíe PARAR para dejar de recibir mensajes."
        ),
        "vi": (
            "{program} hỏi ý kiến các gia đình về tương lai của trường học. Câu trả lời "
            "giúp học khu lập kế hoạch. Có thể tính phí tin nhắn. Quý vị tham gia không? "
            "Trả lời CÓ hoặc KHÔNG. Nhắn DỪNG để ngừng."
        ),
    },
    "consent_declined": {
        "en": "OK, we will not save your answers. Text START if you change your mind.",
        "es": "De acuerdo, no guardaremos sus respuestas. Envíe START si cambia de opinión.",
        "vi": "Được, chúng tôi sẽ không lưu câu trả lời. Nhắn START nếu quý vị đổi ý.",
    },
    "ask_role": {
        "en": "Which best describes you?",
        "es": "¿Qué le describe mejor?",
        "vi": "Điều nào mô tả đúng nhất về quý vị?",
    },
    "ask_school": {
        "en": "Which school is yours? Reply with the number or the school's name.",
        "es": "¿Cuál es su escuela? Responda con el número o el nombre de la escuela.",
        "vi": "Trường của quý vị là trường nào? Trả lời bằng số hoặc tên trường.",
    },
    "ask_school_by_name": {
        "en": "Which school is yours? Reply with the school's name.",
        "es": "¿Cuál es su escuela? Responda con el nombre de la escuela.",
        "vi": "Trường của quý vị là trường nào? Trả lời bằng tên trường.",
    },
    "onboarded": {
        "en": "Thank you! You are signed up for {program}.",
        "es": "¡Gracias! Ya está inscrito en {program}.",
        "vi": "Cảm ơn! Quý vị đã đăng ký {program}.",
    },
    "role_parent": {"en": "Parent or guardian", "es": "Madre, padre o tutor", "vi": "Phụ huynh"},
    "role_student": {"en": "Student", "es": "Estudiante", "vi": "Học sinh"},
    "role_staff": {"en": "School staff", "es": "Personal escolar", "vi": "Nhân viên nhà trường"},
    "role_community": {
        "en": "Community member",
        "es": "Miembro de la comunidad",
        "vi": "Thành viên cộng đồng",
    },
    "yes": {"en": "Yes", "es": "Sí", "vi": "Có"},
    "no": {"en": "No", "es": "No", "vi": "Không"},
    "hint_single": {
        "en": "Reply with a number.",
        "es": "Responda con un número.",
        "vi": "Trả lời bằng một số.",
    },
    "hint_multiple": {
        "en": "Reply with one or more numbers, like 1,3.",
        "es": "Responda con uno o más números, por ejemplo 1,3.",
        "vi": "Trả lời bằng một hoặc nhiều số, ví dụ 1,3.",
    },
    "hint_ranking": {
        "en": "Reply with up to {count} numbers, most important first, like 3,1,2.",
        "es": "Responda con hasta {count} números, el más importante primero, por ejemplo 3,1,2.",
        "vi": "Trả lời tối đa {count} số, quan trọng nhất trước, ví dụ 3,1,2.",
    },
    "hint_scale": {
        "en": "Reply {low} ({low_label}) to {high} ({high_label}).",
        "es": "Responda de {low} ({low_label}) a {high} ({high_label}).",
        "vi": "Trả lời từ {low} ({low_label}) đến {high} ({high_label}).",
    },
    "hint_scale_plain": {
        "en": "Reply with a number from {low} to {high}.",
        "es": "Responda con un número del {low} al {high}.",
        "vi": "Trả lời bằng một số từ {low} đến {high}.",
    },
    "hint_yes_no": {
        "en": "Reply YES or NO.",
        "es": "Responda SÍ o NO.",
        "vi": "Trả lời CÓ hoặc KHÔNG.",
    },
    "hint_skip": {
        "en": "(Reply SKIP to skip.)",
        "es": "(Responda SALTAR para omitir.)",
        "vi": "(Nhắn BỎ QUA để bỏ qua.)",
    },
    "not_understood": {
        "en": "Sorry, I didn't understand.",
        "es": "Perdón, no entendí.",
        "vi": "Xin lỗi, tôi không hiểu.",
    },
    "example_single": {
        "en": "Reply with a number from 1 to {count}, for example 2.",
        "es": "Responda con un número del 1 al {count}, por ejemplo 2.",
        "vi": "Trả lời bằng một số từ 1 đến {count}, ví dụ 2.",
    },
    "moving_on": {
        "en": "Let's move on to the next question.",
        "es": "Pasemos a la siguiente pregunta.",
        "vi": "Chúng ta chuyển sang câu tiếp theo.",
    },
    "completed": {
        "en": "Thank you! Your answers will help shape our schools' plan.",
        "es": "¡Gracias! Sus respuestas ayudarán a formar el plan de nuestras escuelas.",
        "vi": "Cảm ơn! Câu trả lời của quý vị sẽ giúp xây dựng kế hoạch cho trường học.",
    },
    "opted_out": {
        "en": "You are unsubscribed from {program} and will get no more messages. Text START to rejoin.",
        "es": "Ya no recibirá mensajes de {program}. Envíe START para volver a inscribirse.",
        "vi": "Quý vị đã hủy đăng ký {program} và sẽ không nhận tin nhắn nữa. Nhắn START để tham gia lại.",
    },
    "opted_in": {
        "en": "Welcome back to {program}! Text HELP for help or STOP to stop.",
        "es": "¡Bienvenido de nuevo a {program}! Envíe AYUDA para ayuda o PARAR para dejar de recibir mensajes.",
        "vi": "Chào mừng quý vị trở lại {program}! Nhắn GIÚP để được trợ giúp hoặc DỪNG để ngừng.",
    },
    "help": {
        "en": "{program}. Questions? {contact}. Text STOP to stop, LANGUAGE to change language. Msg&data rates may apply.",
        "es": "{program}. ¿Preguntas? {contact}. Envíe PARAR para dejar de recibir mensajes, IDIOMA para cambiar de idioma.",
        "vi": "{program}. Thắc mắc? {contact}. Nhắn DỪNG để ngừng, NGÔN NGỮ để đổi ngôn ngữ.",
    },
    "lets_talk_ack": {
        "en": "Thank you for your message. Our planning team will read it and may reply here.",
        "es": "Gracias por su mensaje. Nuestro equipo de planificación lo leerá y podría responder aquí.",
        "vi": "Cảm ơn tin nhắn của quý vị. Nhóm lập kế hoạch sẽ đọc và có thể trả lời tại đây.",
    },
    "button_closed": {
        "en": "That question is closed now. Thank you!",
        "es": "Esa pregunta ya está cerrada. ¡Gracias!",
        "vi": "Câu hỏi đó đã đóng. Cảm ơn quý vị!",
    },
    "media_only": {
        "en": "Thank you! We can only read text messages. Please reply in words.",
        "es": "¡Gracias! Solo podemos leer mensajes de texto. Por favor responda con palabras.",
        "vi": "Cảm ơn! Chúng tôi chỉ đọc được tin nhắn chữ. Vui lòng trả lời bằng chữ.",
    },
    "staff_reply": {
        "en": "{program} team: {message}",
        "es": "Equipo de {program}: {message}",
        "vi": "Nhóm {program}: {message}",
    },
    "link_offer": {
        "en": "To answer on Telegram too, open this link on your phone: {url} It works once, for 24 hours.",
        "es": "Para responder también por Telegram, abra este enlace en su teléfono: {url} Funciona una vez, durante 24 horas.",
        "vi": "Để trả lời qua Telegram, hãy mở liên kết này trên điện thoại: {url} Liên kết dùng được một lần, trong 24 giờ.",
    },
    "link_unavailable": {
        "en": "Sorry, {program} is not on Telegram yet.",
        "es": "Lo sentimos, {program} todavía no está en Telegram.",
        "vi": "Xin lỗi, {program} chưa có trên Telegram.",
    },
    "linked": {
        "en": "Your Telegram is now connected to your text messages with {program}.",
        "es": "Su Telegram ya está conectado a sus mensajes de texto con {program}.",
        "vi": "Telegram của quý vị đã được kết nối với tin nhắn của {program}.",
    },
    "link_invalid": {
        "en": "That link has expired or was already used. Text LINK to our number to get a new one.",
        "es": "Ese enlace venció o ya se usó. Envíe LINK a nuestro número para recibir otro.",
        "vi": "Liên kết đã hết hạn hoặc đã được dùng. Nhắn LINK đến số của chúng tôi để nhận liên kết mới.",
    },
    # Draft-plan feedback rounds (bot.rounds): one message per section of the plan.
    "section_part": {
        "en": "Part {number} of {count}:",
        "es": "Parte {number} de {count}:",
        "vi": "Phần {number}/{count}:",
    },
    "section_full_text": {"en": "Full text", "es": "Texto completo", "vi": "Toàn văn"},
    "section_support": {
        "en": "How much do you support this part?",
        "es": "¿Qué tanto apoya esta parte?",
        "vi": "Quý vị ủng hộ phần này đến mức nào?",
    },
    "support_low": {"en": "not at all", "es": "nada", "vi": "không ủng hộ"},
    "support_high": {"en": "fully", "es": "totalmente", "vi": "hoàn toàn ủng hộ"},
    "section_comment": {
        "en": 'What would you change or add to "{title}"?',
        "es": '¿Qué cambiaría o agregaría a "{title}"?',
        "vi": 'Quý vị muốn thay đổi hoặc thêm gì cho "{title}"?',
    },
}


def text(message_id: str, language: str, **values: object) -> str:
    """The system text `message_id` in `language` (English when missing), filled in."""
    row = TEXTS[message_id]
    template = row.get(language) or row["en"]
    return template.format(**values) if values else template
