// leaflet.markercluster extends the global L (it is written for a <script> tag).
import L from "leaflet";

window.L = L;
export default L;
