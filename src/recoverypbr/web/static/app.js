// Marks the page as having JavaScript before it is drawn (GOV.UK Frontend's components style themselves by it).
document.body.className += " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
