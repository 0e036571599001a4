// GOV.UK Frontend's components (the navigation's menu button on a narrow screen, buttons, banners); every page works
// without them.
import { initAll } from "/static/dist/govuk-frontend.min.js";

initAll();
